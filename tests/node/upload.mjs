// A real tus client (the official tus-js-client) for the Rust tests.
//
//   node upload.mjs --endpoint URL --file PATH --token JWT --course ID
//                   --store STATE.json [--kill-at BYTES] [--chunk BYTES]
//
// Prints `url <upload url>`, `resuming <url>`, `progress <sent> <total>` and
// `done <url>`. With --kill-at it SIGKILLs itself once that many bytes are
// sent: a client dying mid-upload. A second run with the same --store finds
// the upload (fingerprint of the file) and resumes it.
import fs from 'node:fs'
import path from 'node:path'
import { Upload, FileUrlStorage } from 'tus-js-client'

const args = {}
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
}
const killAt = args['kill-at'] ? Number(args['kill-at']) : null

const upload = new Upload(fs.createReadStream(args.file), {
  endpoint: args.endpoint,
  chunkSize: args.chunk ? Number(args.chunk) : Infinity,
  retryDelays: [0, 300, 1000, 2000],
  headers: { Authorization: `Bearer ${args.token}` },
  metadata: {
    filename: path.basename(args.file),
    course_id: args.course,
    title: 'Uploaded by tus-js-client',
  },
  urlStorage: new FileUrlStorage(args.store),
  storeFingerprintForResuming: true,
  removeFingerprintOnSuccess: true,
  onUploadUrlAvailable () {
    console.log(`url ${upload.url}`)
  },
  onProgress (sent, total) {
    console.log(`progress ${sent} ${total}`)
    if (killAt !== null && sent >= killAt) {
      process.kill(process.pid, 'SIGKILL')
    }
  },
  onSuccess () {
    console.log(`done ${upload.url}`)
  },
  onError (err) {
    console.error(`error ${err}`)
    process.exit(1)
  },
})

const previous = await upload.findPreviousUploads()
if (previous.length > 0) {
  console.log(`resuming ${previous[0].uploadUrl}`)
  upload.resumeFromPreviousUpload(previous[0])
}
upload.start()
