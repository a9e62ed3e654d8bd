module github.com/refval/refval/engine/internal/seccompgen

go 1.26.0

require (
	github.com/opencontainers/runtime-spec v1.0.2
	golang.org/x/sys v0.1.0
)
