package org.zccp;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.After;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The Java library (on Debian's JeroMQ 0.3.6, a ZMTP 2.0 stack) against a
 * real zccpd and Go zccp processes. Every test goes over tcp: JeroMQ's
 * ipc:// is an emulation over tcp that cannot reach a unix socket.
 */
public class ClientTest {
    private static Harness.Broker broker;
    private final List<AutoCloseable> closers = new ArrayList<>();

    @BeforeClass
    public static void startBroker() throws Exception {
        broker = new Harness.Broker();
    }

    @AfterClass
    public static void stopBroker() throws Exception {
        broker.close();
    }

    @After
    public void closeAll() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closing(T c) {
        closers.add(c);
        return c;
    }

    private Client client(String id, Options o) {
        return closing(Client.connect(broker.endpoint, o.identifier(id).connectTimeout(Duration.ofSeconds(15))));
    }

    private Client client(String id) {
        return client(id, new Options());
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Delivery take(BlockingQueue<Delivery> q) throws InterruptedException {
        Delivery d = q.poll(5, TimeUnit.SECONDS);
        if (d == null) {
            fail("no delivery within 5 s");
        }
        return d;
    }

    @Test
    public void jeromqGetsSessionAndDeliveryWithHeadersAndFrames() throws Exception {
        BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
        Client sub = client("j-sub");
        assertTrue(sub.isConnected());
        assertTrue(sub.serverProperties().get("zccp-extensions").contains("requests"));
        sub.subscribe("^news\\.", got::add);
        Client pub = client("j-pub");
        Map<String, String> h = new HashMap<>();
        h.put("unit", "W");
        h.put("empty", "");
        byte[] big = new byte[70_000];
        Arrays.fill(big, (byte) 7);
        pub.publish("news.power", h, b("one"), new byte[0], big);
        Delivery d = take(got);
        assertEquals("j-pub", d.sender());
        assertEquals("news.power", d.address());
        assertEquals(h, d.headers());
        assertEquals(3, d.content().size());
        assertEquals("one", d.text());
        assertEquals(0, d.content().get(1).length);
        assertArrayEquals(big, d.content().get(2));
        assertFalse("the broker refused a JeroMQ connection", broker.logText().contains("speaks neither"));
        // JeroMQ 0.3.6 speaks ZMTP 2.0: the broker logs the version it negotiated.
        assertTrue("no ZMTP 2.0 connection in the broker log", broker.logText().contains("zmtp=2.0"));
    }

    @Test
    public void onceOnlyDeliveryWithOverlappingSubscriptions() throws Exception {
        BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
        Client sub = client("once-sub");
        java.util.function.Consumer<Delivery> l = got::add;
        sub.subscribe("^once\\.", l);
        sub.subscribe("once", l);
        sub.subscribe("\\d$", l);
        Client pub = client("once-pub");
        for (int i = 0; i < 5; i++) {
            pub.publish("once." + i, "m" + i);
        }
        pub.publish("once.end", "end");
        for (int i = 0; i < 5; i++) {
            assertEquals("m" + i, take(got).text());
        }
        assertEquals("end", take(got).text());
        assertTrue("a publication was delivered twice", got.isEmpty());
        // The publisher never receives its own publication.
        BlockingQueue<Delivery> own = new LinkedBlockingQueue<>();
        pub.subscribe("^once\\.", own::add);
        pub.publish("once.self", "self");
        sub.publish("once.other", "other");
        assertEquals("other", take(own).text());
        assertEquals("self", take(got).text());
    }

    @Test
    public void directAndNotices() throws Exception {
        BlockingQueue<Delivery> directs = new LinkedBlockingQueue<>();
        BlockingQueue<ZccpException> errors = new LinkedBlockingQueue<>();
        client("d-target", new Options().onDirect(directs::add));
        Client sender = client("d-sender", new Options().onError(errors::add));
        sender.direct("d-target", Collections.singletonMap("k", "v"), b("hi"), b("there"));
        Delivery d = take(directs);
        assertEquals("d-sender", d.sender());
        assertEquals("d-target", d.address());
        assertEquals("v", d.headers().get("k"));
        assertEquals(2, d.content().size());
        sender.direct("nobody-has-this", null, b("x"));
        ZccpException e = errors.poll(5, TimeUnit.SECONDS);
        assertTrue("expected a notice, got " + e, e instanceof NoticeException);
        assertEquals("no-such-client", ((NoticeException) e).code());
        try {
            sender.subscribe("(unbalanced", x -> { });
            fail("bad expression accepted");
        } catch (NoticeException n) {
            assertEquals("bad-expression", n.code());
        }
        sender.publish("$zccp.mine", "x");
        e = errors.poll(5, TimeUnit.SECONDS);
        assertTrue(e instanceof NoticeException && ((NoticeException) e).code().equals("reserved"));
    }

    @Test
    public void javaRequesterToGoDevice() throws Exception {
        try (Harness.Go dev = closing(new Harness.Go("device", "--endpoint", broker.endpoint, "--id", "go-upper", "--", "tr", "a-z", "A-Z"))) {
            Client req = client("j-req");
            Reply[] got = new Reply[1];
            Harness.eventually("the Go device answers", 10_000, () -> {
                try {
                    got[0] = req.request("go-upper", "upper", Collections.emptyMap(), b("hello java")).get(10, TimeUnit.SECONDS);
                    return true;
                } catch (ExecutionException e) {
                    if (!"no-such-client".equals(((RequestException) e.getCause()).code())) {
                        throw new AssertionError(e.getCause());
                    }
                    return false; // not connected yet
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            Reply r = got[0];
            assertTrue(r.isOk());
            assertEquals("go-upper", r.from());
            assertEquals("HELLO JAVA", r.text());
            try {
                req.request("no-such-device", "x", null).get(10, TimeUnit.SECONDS);
                fail("request to nobody succeeded");
            } catch (ExecutionException e) {
                assertEquals("no-such-client", ((RequestException) e.getCause()).code());
            }
        }
    }

    @Test
    public void goCallToJavaDevice() throws Exception {
        client("j-dev", new Options().handle("double", r -> Response.ok(Long.toString(2 * Long.parseLong(r.text().trim()))))
                .handle("fail", r -> {
                    throw new DeviceException("busy", "try later");
                }));
        Harness.Go call = new Harness.Go("call", "--endpoint", broker.endpoint, "--timeout", "5s", "j-dev", "double", "21");
        assertEquals(call.output(), 0, call.waitFor(15_000));
        assertEquals("42", call.output().trim());
        Harness.Go bad = new Harness.Go("call", "--endpoint", broker.endpoint, "--timeout", "5s", "j-dev", "fail");
        assertEquals(bad.output(), 6, bad.waitFor(15_000));
        assertTrue(bad.output(), bad.output().contains("busy") && bad.output().contains("try later"));
        Harness.Go none = new Harness.Go("call", "--endpoint", broker.endpoint, "--timeout", "5s", "j-dev", "nosuch");
        assertEquals(none.output(), 6, none.waitFor(15_000));
        assertTrue(none.output(), none.output().contains("no-such-method"));
    }

    @Test
    public void groupCallAcrossJavaAndGoDevices() throws Exception {
        for (String id : new String[] {"pdu-a", "pdu-b"}) {
            Client d = client(id, new Options().label("room", id.equals("pdu-a") ? "1" : "2")
                    .handle("status", r -> Response.ok(id + " on")));
            d.subscribe("^pdus$", x -> { });
        }
        try (Harness.Go dev = closing(new Harness.Go("device", "--endpoint", broker.endpoint, "--id", "pdu-go", "--label", "room=1",
                "--subscribe", "^pdus$", "--", "echo", "pdu-go on"))) {
            Client req = client("g-req");
            Harness.eventually("go device in the group", 10_000,
                    () -> req.groupDryRun("pdus", "status", null, Duration.ofSeconds(5)).join().recipients().size() == 3);
            List<Reply> seen = new CopyOnWriteArrayList<>();
            GroupResult g = req.groupRequest("pdus", "status", null, Duration.ofSeconds(10), seen::add, null).get(15, TimeUnit.SECONDS);
            assertEquals(3, g.recipients().size());
            assertTrue(g.toString(), g.allOk());
            assertEquals("pdu-a on", g.replies().get("pdu-a").text());
            assertEquals("pdu-go on", g.replies().get("pdu-go").text().trim());
            assertEquals(3, seen.size());
            GroupResult room1 = req.groupRequest("pdus", "status", Collections.singletonMap("room", "1"), Duration.ofSeconds(10), null, null)
                    .get(15, TimeUnit.SECONDS);
            assertEquals(new java.util.TreeSet<>(java.util.Arrays.asList("pdu-a", "pdu-go")), new java.util.TreeSet<>(room1.recipients()));
            assertEquals(2, room1.okCount());
            GroupResult empty = req.groupRequest("nobody-here", "status", null, Duration.ofSeconds(5), null, null).get(10, TimeUnit.SECONDS);
            assertEquals(0, empty.recipients().size());
            // A Go group call reaches the Java devices too.
            Harness.Go call = new Harness.Go("call", "--endpoint", broker.endpoint, "--timeout", "5s", "--group", "pdus", "status");
            assertEquals(call.output(), 0, call.waitFor(15_000));
            assertTrue(call.output(), call.output().contains("pdu-b ok pdu-b on") && call.output().contains("expected 3, ok 3"));
        }
    }

    @Test
    public void requestIdsStayUniqueAcrossRestarts() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        client("counter", new Options().handle("next", r -> Response.ok(Integer.toString(runs.incrementAndGet()))));
        // The same requester identifier twice, as a restarted process would be:
        // the second run's request must not be answered from the device's
        // record of the first one.
        String first, second;
        try (Client a = Client.connect(broker.endpoint, new Options().identifier("restarting"))) {
            first = a.request("counter", "next", null).get(10, TimeUnit.SECONDS).text();
        }
        try (Client b = Client.connect(broker.endpoint, new Options().identifier("restarting"))) {
            second = b.request("counter", "next", null).get(10, TimeUnit.SECONDS).text();
        }
        assertEquals("1", first);
        assertEquals("2", second);
    }

    @Test
    public void idleClientKeptAlivePastTimeout() throws Exception {
        BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
        Client idle = client("idle");
        idle.subscribe("^idle$", got::add);
        Thread.sleep(2 * Harness.TIMEOUT_MS); // the scenario itself: idle for two broker timeouts
        client("idle-pub").publish("idle", "still there");
        assertEquals("still there", take(got).text());
        assertEquals("the idle client lost its session", 1, idle.sessions());
    }

    @Test
    public void slowHandlerKeepsItsSession() throws Exception {
        Client dev = client("slow-dev", new Options().handle("slow", r -> {
            Thread.sleep(2 * Harness.TIMEOUT_MS);
            return Response.ok("done");
        }));
        Client req = client("slow-req");
        Reply r = req.request("slow-dev", "slow", Duration.ofSeconds(20), null).get(30, TimeUnit.SECONDS);
        assertEquals("done", r.text());
        assertEquals("the device lost its session while its handler ran", 1, dev.sessions());
        assertEquals(1, req.sessions());
    }

    @Test
    public void progressExtendsTheRequestersTimeout() throws Exception {
        client("prog-dev", new Options().handle("long", r -> {
            for (int i = 0; i < 10; i++) {
                Thread.sleep(400);
                r.progress("step " + i);
            }
            return Response.ok("finished");
        }));
        Client req = client("prog-req");
        // 4 s of work against a 2 s timeout: only the progress replies keep the call alive.
        Reply r = req.request("prog-dev", "long", Duration.ofSeconds(2), null).get(20, TimeUnit.SECONDS);
        assertEquals("finished", r.text());
        try {
            client("prog-dev2", new Options().handle("stuck", x -> {
                Thread.sleep(2000);
                return Response.ok();
            }));
            req.request("prog-dev2", "stuck", Duration.ofMillis(300), null).get(10, TimeUnit.SECONDS);
            fail("a request without progress outlived its timeout");
        } catch (ExecutionException e) {
            assertEquals(RequestException.TIMEOUT, ((RequestException) e.getCause()).code());
        }
    }

    @Test
    public void unreachableOrBadEndpointFailsConnect() throws Exception {
        int port = Harness.freePort(); // nothing listens there
        long start = System.nanoTime();
        try {
            Client.connect("tcp://127.0.0.1:" + port, new Options().connectTimeout(Duration.ofMillis(300)));
            fail("connected to nothing");
        } catch (ZccpException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no session with tcp://127.0.0.1:" + port));
        }
        assertTrue("connect did not honour its timeout", System.nanoTime() - start < 5_000_000_000L);
        try {
            Client.connect("tcp://no-port-here", new Options());
            fail("bad endpoint accepted");
        } catch (ZccpException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("tcp://no-port-here"));
        }
    }

    @Test
    public void unsubscribeStopsDeliveries() throws Exception {
        BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
        Client sub = client("unsub");
        sub.subscribe("^u\\.a$", got::add);
        sub.subscribe("^u\\.b$", got::add);
        Client pub = client("unsub-pub");
        pub.publish("u.a", "a1");
        assertEquals("a1", take(got).text());
        sub.unsubscribe("^u\\.a$");
        pub.publish("u.a", "a2"); // no longer subscribed
        pub.publish("u.b", "b1"); // same publisher: ordered after a2
        assertEquals("b1", take(got).text());
        assertTrue(got.isEmpty());
    }

    @Test
    public void takenOverIsFinal() throws Exception {
        BlockingQueue<ZccpException> errors = new LinkedBlockingQueue<>();
        Client first = client("twin", new Options().onError(errors::add));
        Client second = client("twin");
        assertEquals("1", second.serverProperties().get("zccp-replaced"));
        ZccpException e = errors.poll(5, TimeUnit.SECONDS);
        assertTrue("expected taken-over, got " + e, e instanceof NoticeException && ((NoticeException) e).code().equals("taken-over"));
        Harness.eventually("the first client stopped", 5_000, () -> !first.isConnected());
        Thread.sleep(Harness.TIMEOUT_MS); // it must not fight for the identifier
        assertEquals(1, first.sessions());
        assertTrue(second.isConnected());
        assertEquals(1, second.sessions());
    }

    @Test
    public void ipcEndpointRefusedClearly() {
        try {
            Client.connect("ipc://@/zccp", new Options());
            fail("ipc accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("tcp"));
        }
    }

    private static final class Arrays {
        static void fill(byte[] a, byte v) {
            java.util.Arrays.fill(a, v);
        }
    }
}
