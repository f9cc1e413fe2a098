//! Bitrate ladder planning (pure arithmetic, unit-tested).
//!
//! Rules: never above the source's *display* height (after sample aspect
//! ratio and rotation), never upscaled, even dimensions (4:2:0 chroma needs
//! them), display aspect ratio kept, and always at least one rung.

/// One requested rung of the ladder: a target height and video bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// Output height in pixels (the width follows from the aspect ratio).
    pub height: u32,
    /// Target video bitrate in bits per second.
    pub video_bitrate: u64,
}

/// The default table: (height, bits/s).
const DEFAULT_TABLE: [(u32, u64); 5] = [
    (1080, 5_000_000),
    (720, 2_800_000),
    (480, 1_400_000),
    (360, 800_000),
    (240, 400_000),
];

impl Rung {
    /// The default ladder: 1080p 5 Mb/s, 720p 2.8, 480p 1.4, 360p 0.8, 240p 0.4.
    pub fn default_ladder() -> Vec<Rung> {
        DEFAULT_TABLE
            .iter()
            .map(|&(height, video_bitrate)| Rung {
                height,
                video_bitrate,
            })
            .collect()
    }

    /// A rung for `height` with the bitrate from the default table, or, for
    /// heights not in the table, 5 Mb/s scaled by `(height/1080)^1.5` (which
    /// reproduces the table within ~20%), at least 100 kb/s.
    pub fn for_height(height: u32) -> Rung {
        let video_bitrate = DEFAULT_TABLE
            .iter()
            .find(|(h, _)| *h == height)
            .map(|&(_, b)| b)
            .unwrap_or_else(|| {
                let r = f64::from(height) / 1080.0;
                ((5_000_000.0 * r.powf(1.5)) as u64).max(100_000)
            });
        Rung {
            height,
            video_bitrate,
        }
    }
}

/// A planned output rendition (what will actually be encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Folder name, e.g. "720p".
    pub name: String,
    /// Output width (even).
    pub width: u32,
    /// Output height (even).
    pub height: u32,
    /// Target video bitrate in bits per second.
    pub video_bitrate: u64,
}

/// Round down to an even number, at least 2.
fn floor_even(x: u32) -> u32 {
    (x & !1).max(2)
}

/// Even width for `height` keeping the display aspect `dw:dh`, never wider
/// than the (even-floored) display width.
fn width_for(height: u32, dw: u32, dh: u32) -> u32 {
    let exact = f64::from(height) * f64::from(dw) / f64::from(dh);
    let even = ((exact / 2.0).round() as u32 * 2).max(2);
    even.min(floor_even(dw))
}

/// Plan the renditions for a source whose display size (after sample aspect
/// ratio and rotation) is `display_width` x `display_height`.
///
/// Rungs taller than the source are dropped; duplicates (after rounding to
/// even) collapse; if nothing is left (source below the smallest rung) one
/// rung at the even-rounded source height is produced with the smallest
/// rung's bitrate scaled by the height ratio. Output is tallest first.
pub fn plan_ladder(display_width: u32, display_height: u32, rungs: &[Rung]) -> Vec<Rendition> {
    let dw = display_width.max(2);
    let dh = display_height.max(2);
    let mut sorted: Vec<Rung> = rungs.to_vec();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.height));
    let mut out: Vec<Rendition> = Vec::new();
    for r in &sorted {
        if r.height > dh || r.height < 2 {
            continue;
        }
        let height = floor_even(r.height);
        if out.iter().any(|o| o.height == height) {
            continue;
        }
        out.push(Rendition {
            name: format!("{height}p"),
            width: width_for(height, dw, dh),
            height,
            video_bitrate: r.video_bitrate,
        });
    }
    if out.is_empty() {
        let height = floor_even(dh);
        let smallest = sorted.last().copied().unwrap_or(Rung::for_height(240));
        let scaled = (smallest.video_bitrate as f64 * f64::from(height)
            / f64::from(smallest.height.max(1))) as u64;
        out.push(Rendition {
            name: format!("{height}p"),
            width: width_for(height, dw, dh),
            height,
            video_bitrate: scaled.max(100_000),
        });
    }
    out
}

/// Display size of a coded picture: apply the sample aspect ratio to the
/// width (anamorphic sources) then swap for 90/270 degree rotation.
pub fn display_size(
    coded_width: u32,
    coded_height: u32,
    sar: (u32, u32),
    rotation: u32,
) -> (u32, u32) {
    let w = if sar.0 > 0 && sar.1 > 0 && sar.0 != sar.1 {
        ((f64::from(coded_width) * f64::from(sar.0) / f64::from(sar.1)).round() as u32).max(1)
    } else {
        coded_width
    };
    rotated_size(w, coded_height, rotation)
}

/// A `width` x `height` picture's size once turned by `rotation` degrees.
/// A quarter turn swaps the sides, so this is also the size a picture needs
/// *before* the turn to end up `width` x `height`.
pub(crate) fn rotated_size(width: u32, height: u32, rotation: u32) -> (u32, u32) {
    if rotation == 90 || rotation == 270 {
        (height, width)
    } else {
        (width, height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heights(v: &[Rendition]) -> Vec<u32> {
        v.iter().map(|r| r.height).collect()
    }

    #[test]
    fn full_hd_gets_full_ladder() {
        let l = plan_ladder(1920, 1080, &Rung::default_ladder());
        assert_eq!(heights(&l), vec![1080, 720, 480, 360, 240]);
        assert_eq!(l[0].width, 1920);
        assert_eq!(l[1].width, 1280);
        assert_eq!(l[2].width, 854);
        assert_eq!(l[3].width, 640);
        assert_eq!(l[4].width, 426);
        assert_eq!(l[1].name, "720p");
        assert_eq!(l[1].video_bitrate, 2_800_000);
    }

    #[test]
    fn never_upscales() {
        let l = plan_ladder(1280, 720, &Rung::default_ladder());
        assert_eq!(heights(&l), vec![720, 480, 360, 240]);
        let l = plan_ladder(640, 400, &Rung::default_ladder());
        assert_eq!(heights(&l), vec![360, 240]);
        for r in &l {
            assert!(r.width <= 640 && r.height <= 400);
        }
    }

    #[test]
    fn even_dimensions_and_dar_kept() {
        for (w, h) in [(321, 241), (1918, 1078), (853, 480), (500, 333), (17, 17)] {
            for r in plan_ladder(w, h, &Rung::default_ladder()) {
                assert_eq!(r.width % 2, 0, "{w}x{h} -> {r:?}");
                assert_eq!(r.height % 2, 0, "{w}x{h} -> {r:?}");
                assert!(r.width <= w && r.height <= h, "{w}x{h} -> {r:?}");
                let src = f64::from(w) / f64::from(h);
                let out = f64::from(r.width) / f64::from(r.height);
                // Within the error of rounding each side to even.
                let tol = 2.0 / f64::from(r.height) + 2.0 / f64::from(r.width);
                assert!((src - out).abs() / src <= tol, "{w}x{h} -> {r:?}");
            }
        }
    }

    #[test]
    fn odd_source_height_below_smallest_rung_gives_one_rung() {
        let l = plan_ladder(300, 201, &Rung::default_ladder());
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].height, 200);
        assert_eq!(l[0].width % 2, 0);
        assert!(l[0].video_bitrate >= 100_000);
        let l = plan_ladder(16, 16, &Rung::default_ladder());
        assert_eq!((l[0].width, l[0].height), (16, 16));
    }

    #[test]
    fn always_at_least_one_rung_even_with_empty_input() {
        let l = plan_ladder(320, 240, &[]);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].height, 240);
    }

    #[test]
    fn rotation_swaps_and_ladder_uses_rotated_height() {
        // A 1920x1080 phone video rotated 90 degrees displays as 1080x1920.
        let (dw, dh) = display_size(1920, 1080, (1, 1), 90);
        assert_eq!((dw, dh), (1080, 1920));
        let l = plan_ladder(dw, dh, &Rung::default_ladder());
        assert_eq!(l[0].height, 1080);
        assert_eq!(l[0].width, 608);
        assert_eq!(display_size(1920, 1080, (1, 1), 180), (1920, 1080));
        assert_eq!(display_size(320, 240, (0, 1), 270), (240, 320));
    }

    #[test]
    fn sample_aspect_ratio_is_respected() {
        // DVD-style anamorphic 720x480 with SAR 32:27 displays as 853x480.
        let (dw, dh) = display_size(720, 480, (32, 27), 0);
        assert_eq!((dw, dh), (853, 480));
        let l = plan_ladder(dw, dh, &Rung::default_ladder());
        assert_eq!((l[0].width, l[0].height), (852, 480));
    }

    #[test]
    fn duplicate_and_unsorted_rungs_collapse() {
        let rungs = [
            Rung::for_height(240),
            Rung::for_height(720),
            Rung::for_height(241),
        ];
        let l = plan_ladder(1280, 720, &rungs);
        assert_eq!(heights(&l), vec![720, 240]);
    }

    #[test]
    fn bitrate_for_unlisted_heights() {
        assert_eq!(Rung::for_height(720).video_bitrate, 2_800_000);
        let b = Rung::for_height(144).video_bitrate;
        assert!((150_000..400_000).contains(&b), "{b}");
        assert!(Rung::for_height(1440).video_bitrate > 5_000_000);
    }
}
