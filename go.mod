module github.com/zccp-go/zccp

go 1.26
