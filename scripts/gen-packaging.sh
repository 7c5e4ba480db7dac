#!/usr/bin/env bash
# Regenerates the man pages and shell completions under packaging/ from
# the commands' own definitions (make packaging; a test checks they are
# current).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
$GO run ./cmd/zccp gen-man > packaging/man/zccp.1
$GO run ./cmd/zccpd gen-man > packaging/man/zccpd.8
$GO run ./cmd/zccp completion bash > packaging/completion/zccp.bash
$GO run ./cmd/zccp completion zsh > packaging/completion/_zccp
