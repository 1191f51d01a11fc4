#!/usr/bin/env node
// Kept free of modern syntax so that an old Node gets a sentence, not a SyntaxError.
var major = Number(process.versions.node.split('.')[0])
if (major < 20) {
  console.error('pay-gate needs Node.js 20 or later; this is ' + process.version + '.')
  process.exit(1)
}
import('../dist/cli.mjs').then(function (cli) {
  return cli.main(process.argv.slice(2)).then(function (code) {
    process.exitCode = code
  })
})
