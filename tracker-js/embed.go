// Package trackerjs holds the source of t.js, the consent banner and
// analytics tracker in one script, and the demo site's pages. The server
// bundles and minifies the source with esbuild when it starts.
package trackerjs

import "embed"

// Source holds src/, the script's source: src/index.js is the entry point.
//
//go:embed src
var Source embed.FS

// Demo holds demo/, the pages of the demo site.
//
//go:embed demo
var Demo embed.FS
