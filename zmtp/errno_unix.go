package zmtp

import "syscall"

// errTooManyFiles is the accept error for descriptor exhaustion.
var errTooManyFiles error = syscall.EMFILE
