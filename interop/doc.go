// Package interop holds interoperability tests between the native Go ZMTP
// engine (github.com/zccp-go/zccp/zmtp) and libzmq, driven through
// github.com/pebbe/zmq4, plus a relay benchmark comparing the two (see
// the relay subpackage and cmd/relaybench).
//
// It is a separate module so that cgo and libzmq never enter the main
// module: building it needs CGO_ENABLED=1 and libzmq's development files
// (Debian: libzmq3-dev).
package interop
