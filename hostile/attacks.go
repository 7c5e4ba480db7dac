package main

// attacks are run in this order, each against a fresh zccpd.
var attacks = []attack{
	{name: "big-frames", what: "300 connections announce 4 MiB frames and hold (item 1)", run: bigFrames},
	{name: "cache-leak", what: "waves of subscribers with queued data leave (item 2)", run: cacheLeak},
	{name: "big-fanout", what: "60 subscribers that never read, four 4 MiB PUBLISHes (item 3)", run: bigFanout},
	{name: "labels", what: "4 KiB NUL labels on 20 sessions, a 64 KiB label, clients calls (item 4)", run: labels},
	{name: "regex-thrash", what: "10,000 wildcard expressions, 20 publishes/s to new addresses (item 5)", run: regexThrash},
	{name: "sub-refusals", what: "20,000 SUBSCRIBEs refused at the limit (item 7)", run: subRefusals},
	{name: "handshake-churn", what: "connect, broken greeting, close, in a loop (item 8)", run: churn},
	{name: "cut-replies", what: "20 clients overflow their queues with DIRECTs to themselves (item 8)", run: cutReplies},
	{name: "conn-flood", what: "2,100 idle connections from 127.0.0.2, limit 1,000 per address (item 9)",
		args: []string{"--max-conns-per-host", "1000"}, run: connFlood},
	{name: "session-flood", what: "300 sessions from 127.0.0.2, limit 200 per address (item 9)",
		args: []string{"--max-sessions-per-host", "200"}, run: sessionFlood},
}
