module github.com/crumbhq/crumb/server/testkit/chcompat

go 1.24

require github.com/chdb-io/chdb-go/v2 v2.0.1

require (
	github.com/ebitengine/purego v0.8.2 // indirect
	golang.org/x/sys v0.22.0 // indirect
)
