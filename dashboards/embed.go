// Package dashboards holds the dashboard UI: the login page, the single-page
// app and its vendored chart library. The server bundles web/src/app.js with
// esbuild when it starts and serves everything from the binary.
package dashboards

import "embed"

// Web holds web/.
//
//go:embed web
var Web embed.FS
