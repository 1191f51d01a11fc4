#!/usr/bin/env node
// Kept free of modern syntax so that an old Node gets a sentence, not a SyntaxError.
// Node 22, not 20: `serve` runs wrangler and its Miniflare in this process, and
// `routes push|pull` start wrangler, all of which refuse older Node deep inside.
var major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(
    'pay-gate needs Node.js 22 or later (this is Node ' + major + '.x). ' +
      'Run it with the node from node_modules/.bin (npm run …) or install Node 22.'
  )
  process.exit(1)
}
import('../dist/cli.mjs').then(function (cli) {
  return cli.main(process.argv.slice(2)).then(function (code) {
    process.exitCode = code
  })
})
