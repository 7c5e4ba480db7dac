module github.com/zccp-go/zccp/interop

go 1.26

require (
	github.com/pebbe/zmq4 v1.4.0
	github.com/zccp-go/zccp v0.0.0
	go.uber.org/goleak v1.3.0
)

replace github.com/zccp-go/zccp => ../
