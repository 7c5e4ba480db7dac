module github.com/zccp-go/zccp/interop

go 1.26.0

require (
	github.com/pebbe/zmq4 v1.4.0
	github.com/zccp-go/zccp v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/crypto v0.59.0
)

require golang.org/x/sys v0.50.0 // indirect

replace github.com/zccp-go/zccp => ../
