package org.zccp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.zeromq.ZMQ;

/**
 * The I/O thread: it alone owns the JeroMQ socket (JeroMQ sockets are not
 * thread-safe). Other threads hand it work through {@link #submit}, which
 * wakes its poll through a pipe. User code never runs here: listeners and
 * future completions run on the callback thread, request handlers on the
 * handler pool, so nothing a user does can delay the answer to a PING.
 */
final class Engine implements Runnable {
    enum State { HELLO_SENT, READY, CLOSED }

    static final String BROKER = "$zccp";
    private static final int OUTBOX_LIMIT = 10_000;
    /**
     * How long a HELLO may wait for its HELLO-OK before the client gives up
     * on that connection (the original client's 3 s presence timeout). A
     * HELLO sent while the broker is down is queued by JeroMQ and goes out
     * when it connects, so this only catches a connection that is stuck.
     */
    private static final long HELLO_WAIT_MS = 3000;

    final String endpoint;
    final Options opts;
    final Calls calls;
    final Device device;
    final Subscriptions subs;
    final ExecutorService callbacks;
    final CompletableFuture<Void> connected = new CompletableFuture<>();
    final AtomicLong sessions = new AtomicLong();
    volatile State state = State.HELLO_SENT;
    volatile Map<String, String> serverProperties = Collections.emptyMap();

    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Pipe wake;
    private final Thread thread;
    private final ArrayDeque<List<byte[]>> outbox = new ArrayDeque<>();
    private ZMQ.Context ctx;
    private ZMQ.Socket sock;
    private ZMQ.Poller poller;

    private long lastRecv = System.nanoTime();
    private long helloAt;          // when the HELLO now awaited was sent (0: send one when due)
    private long helloDue;         // earliest time for the next HELLO
    private long backoffMs;        // current wait between failed attempts
    private long sessionStart;
    private boolean probed;        // a PING went out since we last heard from the broker
    private long pingIntervalMs = 2000, timeoutMs = 15000;
    private volatile boolean stopping;
    private long goodbyeDeadline;  // nonzero once close() asked for GOODBYE

    Engine(String endpoint, Options opts) throws IOException {
        this.endpoint = endpoint;
        this.opts = opts;
        this.callbacks = Executors.newSingleThreadExecutor(daemon("zccp-callbacks"));
        this.calls = new Calls(this);
        this.device = new Device(this);
        this.subs = new Subscriptions(this);
        this.wake = Pipe.open();
        wake.source().configureBlocking(false);
        wake.sink().configureBlocking(false);
        this.backoffMs = opts.reconnectMin.toMillis();
        this.helloDue = System.nanoTime();
        this.thread = daemon("zccp-io").newThread(this);
    }

    static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    void start() {
        thread.start();
    }

    /** Runs task on the I/O thread. */
    void submit(Runnable task) {
        tasks.add(task);
        try {
            wake.sink().write(ByteBuffer.wrap(new byte[] {1}));
        } catch (IOException e) {
            // pipe full or closed: the loop polls at least every 100 ms anyway
        }
    }

    /** Runs r on the callback thread (user code, future completions). */
    void callback(Runnable r) {
        try {
            callbacks.execute(() -> {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    report(new ZccpException("listener failed: " + e, e));
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closed
        }
    }

    /** Tells Options.onError (on the callback thread); its own failures are dropped, not re-reported. */
    void report(ZccpException e) {
        if (opts.onError == null) {
            return;
        }
        try {
            callbacks.execute(() -> {
                try {
                    opts.onError.accept(e);
                } catch (RuntimeException ignored) {
                    // nowhere else to report it: a library never prints
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // the client is closed
        }
    }

    @Override
    public void run() {
        ctx = ZMQ.context(1);
        try {
            openSocket();
            while (!finished()) {
                poller.poll(pollWait());
                drainWake();
                for (Runnable t; (t = tasks.poll()) != null; ) {
                    t.run();
                }
                receiveAll();
                flushOutbox();
                timers(System.nanoTime());
            }
        } catch (RuntimeException e) {
            ZccpException failed = new ZccpException("I/O thread failed (endpoint " + endpoint + "): " + e, e);
            connected.completeExceptionally(failed);
            report(failed);
        } finally {
            state = State.CLOSED;
            ZccpException closed = new ZccpException("client closed");
            calls.failAll(closed);
            subs.failAll(closed);
            connected.completeExceptionally(closed);
            if (sock != null) {
                sock.close();
            }
            ctx.term();
            device.shutdown();
            callbacks.shutdown();
            try {
                wake.source().close();
                wake.sink().close();
            } catch (IOException e) {
                // nothing to do
            }
        }
    }

    private boolean finished() {
        if (!stopping) {
            return false;
        }
        return goodbyeDeadline == 0 || state != State.READY || System.nanoTime() - goodbyeDeadline > 0;
    }

    private long pollWait() {
        return tasks.isEmpty() ? 50 : 0;
    }

    private void drainWake() {
        ByteBuffer b = ByteBuffer.allocate(64);
        try {
            while (wake.source().read(b) > 0) {
                b.clear();
            }
        } catch (IOException e) {
            // closed
        }
    }

    /** A fresh DEALER: a brand-new connection, so nothing queued on the old one reaches the broker. */
    private void openSocket() {
        if (sock != null) {
            sock.close();
        }
        sock = ctx.socket(ZMQ.DEALER);
        sock.setLinger(0);
        // Queue nothing for a connection that is not up: a HELLO is only
        // ever written to a live connection, never left in a pipe to reach
        // the broker later beside a newer one.
        sock.setDelayAttachOnConnect(true);
        sock.setReconnectIVL(opts.reconnectMin.toMillis());
        sock.setReconnectIVLMax(opts.reconnectMax.toMillis());
        sock.connect(endpoint);
        poller = new ZMQ.Poller(2);
        poller.register(sock, ZMQ.Poller.POLLIN);
        poller.register(wake.source(), ZMQ.Poller.POLLIN);
        state = State.HELLO_SENT;
        helloAt = 0;
    }

    private void receiveAll() {
        for (int n = 0; n < 1000; n++) {
            byte[] first = sock.recv(ZMQ.DONTWAIT);
            if (first == null) {
                return;
            }
            List<byte[]> frames = new ArrayList<>();
            frames.add(first);
            while (sock.hasReceiveMore()) {
                frames.add(sock.recv(0));
            }
            lastRecv = System.nanoTime();
            probed = false;
            Wire.Command c;
            try {
                c = Wire.decode(frames);
            } catch (ZccpException e) {
                report(e);
                continue;
            }
            handle(c);
        }
    }

    private void handle(Wire.Command c) {
        switch (c.id) {
            case Wire.HELLO_OK:
                if (state == State.HELLO_SENT && helloAt != 0) {
                    sessionStarted(c.headers);
                }
                break;
            case Wire.SUBSCRIBE_OK:
                subs.acknowledged();
                break;
            case Wire.DELIVER:
                deliver(new Delivery(c.sender, c.address, c.headers, c.content));
                break;
            case Wire.PING:
                sendNow(Collections.singletonList(Wire.encode(Wire.PING_OK, null)));
                break;
            case Wire.INVALID:
                // INVALID while waiting for HELLO-OK answers something sent
                // before our HELLO: ignore it (docs/protocol.md §8).
                if (state == State.READY) {
                    sessionLost("the broker answered INVALID (session lost)");
                }
                break;
            case Wire.GOODBYE_OK:
                state = State.HELLO_SENT;
                break;
            default:
                break;
        }
    }

    private void sessionStarted(Map<String, String> props) {
        state = State.READY;
        sessions.incrementAndGet();
        serverProperties = props;
        pingIntervalMs = number(props.get("zccp-ping-interval"), 2000);
        timeoutMs = number(props.get("zccp-timeout"), 15000);
        sessionStart = System.nanoTime();
        subs.resubscribe();
        flushOutbox();
        if (!connected.isDone()) {
            callback(() -> connected.complete(null));
        }
    }

    /** The session is gone; say HELLO again, at once unless sessions keep failing. */
    private void sessionLost(String why) {
        state = State.HELLO_SENT;
        helloAt = 0;
        long lived = (System.nanoTime() - sessionStart) / 1_000_000;
        if (lived > opts.reconnectMax.toMillis()) {
            backoffMs = opts.reconnectMin.toMillis();
            helloDue = System.nanoTime();
        } else {
            helloDue = System.nanoTime() + jitter(backoffMs) * 1_000_000;
            backoffMs = Math.min(backoffMs * 2, opts.reconnectMax.toMillis());
        }
        subs.sessionLost();
        report(new ZccpException(why + "; saying HELLO again"));
    }

    private void timers(long now) {
        calls.expire(now);
        if (stopping) {
            return;
        }
        if (state == State.HELLO_SENT) {
            if (helloAt == 0 && now - helloDue >= 0) {
                sendHello(now);
            } else if (helloAt != 0 && now - helloAt > Math.max(HELLO_WAIT_MS, backoffMs) * 1_000_000) {
                // No HELLO-OK: a new connection (dropping whatever the old
                // one still queues, so the broker never sees two HELLOs).
                backoffMs = Math.min(backoffMs * 2, opts.reconnectMax.toMillis());
                openSocket();
                helloDue = now + jitter(backoffMs) * 1_000_000;
            }
            return;
        }
        long silent = (now - lastRecv) / 1_000_000;
        if (silent > Math.max(timeoutMs, 3 * pingIntervalMs)) {
            openSocket();
            subs.sessionLost();
            report(new ZccpException("no traffic from the broker for " + silent + " ms; reconnecting"));
            helloDue = now;
        } else if (silent > pingIntervalMs * 3 / 2 && !probed && supports("ping")) {
            // The broker PINGs us every interval: it is late. If our
            // connection was silently replaced (broker restart), this PING
            // gets INVALID and we say HELLO again.
            probed = trySend(Collections.singletonList(Wire.encode(Wire.PING, null))); // retried while the connection is down
        }
    }

    /** Sends HELLO if the connection is up; otherwise tries again shortly. */
    private void sendHello(long now) {
        if (trySend(Collections.singletonList(Wire.encode(Wire.HELLO, opts.helloHeaders(), opts.identifier)))) {
            helloAt = now;
        } else {
            helloDue = now + 20_000_000L;
        }
    }

    boolean supports(String extension) {
        String ext = serverProperties.getOrDefault("zccp-extensions", "");
        for (String e : ext.split(",")) {
            if (e.trim().equals(extension)) {
                return true;
            }
        }
        return false;
    }

    private void deliver(Delivery d) {
        Map<String, String> h = d.headers();
        if (h.containsKey("zccp-reply-to")) {
            calls.reply(d);
        } else if (BROKER.equals(d.sender()) && "$zccp.error".equals(d.address())) {
            notice(new NoticeException(h));
        } else if (h.containsKey("zccp-cancel-request")) {
            device.cancel(d.sender(), h.get("zccp-cancel-request"));
        } else if (h.containsKey("zccp-request-id") && h.containsKey("zccp-method") && !BROKER.equals(d.sender())) {
            device.serve(d);
        } else if (!opts.identifier.isEmpty() && opts.identifier.equals(d.address()) && opts.onDirect != null) {
            callback(() -> opts.onDirect.accept(d));
        } else {
            subs.dispatch(d);
        }
    }

    private void notice(NoticeException n) {
        if ("SUBSCRIBE".equals(n.command()) && subs.noticeForHead(n)) {
            return;
        }
        if ("taken-over".equals(n.code())) {
            // Final: another process has our identifier; do not fight for it.
            calls.failAll(n);
            subs.failAll(n);
            stopping = true;
        }
        report(n);
    }

    /**
     * Sends an application message, holding it (in order) while there is no
     * session or the connection cannot take it.
     */
    void send(List<byte[]> frames) {
        if (state == State.READY && outbox.isEmpty() && trySend(frames)) {
            return;
        }
        if (outbox.size() < OUTBOX_LIMIT) {
            outbox.add(frames);
        } else {
            report(new ZccpException("no session and " + OUTBOX_LIMIT + " messages waiting: message dropped"));
        }
    }

    private void flushOutbox() {
        while (state == State.READY && !outbox.isEmpty() && trySend(outbox.peek())) {
            outbox.poll();
        }
    }

    /** Sends a protocol message now; reports it if the connection cannot take it. */
    boolean sendNow(List<byte[]> frames) {
        if (trySend(frames)) {
            return true;
        }
        report(new ZccpException("connection down or send queue full: protocol message dropped"));
        return false;
    }

    /** Writes a message without waiting; false when the connection is down or full. */
    private boolean trySend(List<byte[]> frames) {
        int last = frames.size() - 1;
        for (int i = 0; i <= last; i++) {
            boolean ok = sock.send(frames.get(i), (i < last ? ZMQ.SNDMORE : 0) | ZMQ.DONTWAIT);
            if (!ok && i == 0) {
                return false; // nothing written: ZeroMQ messages are atomic
            }
        }
        return true;
    }

    /** Asks the loop to say GOODBYE (waiting at most timeoutMs for GOODBYE-OK) and stop. */
    void close(long timeoutMs) {
        submit(() -> {
            stopping = true;
            if (state == State.READY) {
                sendNow(Collections.singletonList(Wire.encode(Wire.GOODBYE, null)));
                goodbyeDeadline = System.nanoTime() + timeoutMs * 1_000_000;
            }
        });
        try {
            thread.join(timeoutMs + 2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private long jitter(long ms) {
        return ms * 3 / 4 + ThreadLocalRandom.current().nextLong(ms / 2 + 1);
    }

    private static long number(String s, long def) {
        try {
            return s == null ? def : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return def;
        }
    }

    /** Removes the entries of an LRU map beyond max. */
    static <K, V> void trim(LinkedHashMap<K, V> m, int max) {
        Iterator<K> it = m.keySet().iterator();
        while (m.size() > max && it.hasNext()) {
            it.next();
            it.remove();
        }
    }

    static long millisLeft(long deadlineNanos) {
        return TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
    }
}
