package org.zccp;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A ZCCP client on JeroMQ. Every method may be called from any thread: one
 * I/O thread owns the socket. The client keeps its session: it answers the
 * broker's PINGs, and after a lost session (INVALID, or a broker that went
 * quiet, e.g. restarted) it says HELLO again with backoff and re-subscribes.
 *
 * <pre>
 * try (Client c = Client.connect("tcp://127.0.0.1:7878", new Options().identifier("me"))) {
 *     c.subscribe("^power\\.", d -&gt; System.out.println(d.address() + " " + d.text()));
 *     c.publish("power.rack1", Map.of("unit", "W"), "42".getBytes());
 *     Reply r = c.request("pdu-1", "outlet.off", Map.of(), "3".getBytes()).get();
 * }
 * </pre>
 */
public final class Client implements AutoCloseable {
    private final Engine engine;

    private Client(Engine engine) {
        this.engine = engine;
    }

    /**
     * Connects to a broker and waits for the session (HELLO-OK) at most
     * {@link Options#connectTimeout}. Only tcp:// endpoints: JeroMQ's ipc is
     * its own emulation over tcp and cannot reach zccpd's unix socket.
     */
    public static Client connect(String endpoint, Options options) {
        if (!endpoint.startsWith("tcp://")) {
            throw new IllegalArgumentException("JeroMQ can only reach zccpd over tcp:// (its ipc:// is not a unix socket): " + endpoint);
        }
        Engine e;
        try {
            e = new Engine(endpoint, options);
        } catch (IOException ex) {
            throw new ZccpException("cannot create the wake-up pipe", ex);
        }
        e.start();
        try {
            e.connected.get(options.connectTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException ex) {
            e.close(0);
            throw new ZccpException("no session with " + endpoint + " within " + options.connectTimeout.toMillis() + " ms");
        } catch (InterruptedException ex) {
            e.close(0);
            Thread.currentThread().interrupt();
            throw new ZccpException("interrupted while connecting", ex);
        } catch (ExecutionException ex) {
            e.close(0);
            throw unwrap(ex);
        }
        return new Client(e);
    }

    /** Our identifier (empty when anonymous). */
    public String identifier() {
        return engine.opts.identifier;
    }

    /** True while the client has a session with the broker. */
    public boolean isConnected() {
        return engine.state == Engine.State.READY;
    }

    /** How many sessions this client has started (1 + recoveries). */
    public long sessions() {
        return engine.sessions.get();
    }

    /** The broker's HELLO-OK properties of the current session. */
    public Map<String, String> serverProperties() {
        return engine.serverProperties;
    }

    /**
     * Subscribes to addresses matching {@code expression} (zrex dialect,
     * docs/protocol.md §5.2) and waits for SUBSCRIBE-OK. The listener runs
     * on the client's callback thread, one delivery at a time, in order.
     *
     * @throws NoticeException e.g. {@code bad-expression}
     */
    public void subscribe(String expression, Consumer<Delivery> listener) {
        await(subscribeAsync(expression, listener));
    }

    public CompletableFuture<Void> subscribeAsync(String expression, Consumer<Delivery> listener) {
        checkString(expression, "expression");
        CompletableFuture<Void> done = new CompletableFuture<>();
        engine.submit(() -> engine.subs.add(expression, listener, done));
        return done;
    }

    /** Removes the subscription (all listeners of that expression). */
    public void unsubscribe(String expression) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        engine.submit(() -> engine.subs.remove(expression, done));
        await(done);
    }

    /** Publishes a message with headers and any number of content frames (not confirmed). */
    public void publish(String address, Map<String, String> headers, byte[]... content) {
        checkString(address, "address");
        List<byte[]> msg = Wire.message(Wire.encode(Wire.PUBLISH, headers, address), frames(content));
        engine.submit(() -> engine.send(msg));
    }

    /** Publishes one UTF-8 text frame. */
    public void publish(String address, String text) {
        publish(address, Collections.emptyMap(), Wire.utf8(text));
    }

    /**
     * Sends a message to the client with identifier {@code to}. If nobody has
     * it, the broker's {@code no-such-client} notice reaches {@link Options#onError}.
     */
    public void direct(String to, Map<String, String> headers, byte[]... content) {
        checkString(to, "identifier");
        List<byte[]> msg = Wire.message(Wire.encode(Wire.DIRECT, headers, to), frames(content));
        engine.submit(() -> engine.send(msg));
    }

    /** A request to one device with the default timeout; see {@link #request(String, String, Duration, Map, byte[]...)}. */
    public CompletableFuture<Reply> request(String device, String method, Map<String, String> headers, byte[]... content) {
        return request(device, method, engine.opts.requestTimeout, headers, content);
    }

    /**
     * Sends a request to one device. The future completes with its ok reply,
     * or exceptionally with a {@link RequestException}: the device's (or the
     * broker's) error code, or {@code timeout} when no final reply came within
     * {@code timeout} (progress replies extend it). The timeout also travels
     * as the request's TTL.
     */
    public CompletableFuture<Reply> request(String device, String method, Duration timeout, Map<String, String> headers, byte[]... content) {
        checkString(device, "device");
        Calls.Call c = new Calls.Call(engine.calls.nextId(), device, timeout.toNanos());
        c.single = new CompletableFuture<>();
        List<byte[]> msg = Wire.message(Wire.encode(Wire.DIRECT, requestHeaders(c.id, method, timeout, headers), device), frames(content));
        engine.submit(() -> engine.calls.start(c, msg));
        return c.single;
    }

    /**
     * Sends a request to every device serving a group: the devices subscribed
     * to an expression matching {@code address} (all devices when empty),
     * narrowed to those whose labels have every value in {@code select}. The
     * broker's receipt says whom it went to; the future completes when each
     * of them has answered (ok or error), or at the timeout with the missing
     * ones listed. {@code onReply}, if not null, sees every reply as it comes.
     */
    public CompletableFuture<GroupResult> groupRequest(String address, String method, Map<String, String> select, Duration timeout,
            Consumer<Reply> onReply, Map<String, String> headers, byte[]... content) {
        return group(address, method, select, timeout, onReply, false, headers, content);
    }

    /** Who a group request would reach, without sending it (the receipt of a dry run). */
    public CompletableFuture<GroupResult> groupDryRun(String address, String method, Map<String, String> select, Duration timeout) {
        return group(address, method, select, timeout, null, true, null);
    }

    private CompletableFuture<GroupResult> group(String address, String method, Map<String, String> select, Duration timeout,
            Consumer<Reply> onReply, boolean dryRun, Map<String, String> headers, byte[]... content) {
        checkString(address, "address");
        Calls.Call c = new Calls.Call(engine.calls.nextId(), null, timeout.toNanos());
        c.group = new CompletableFuture<>();
        c.onReply = onReply;
        c.dryRun = dryRun;
        Map<String, String> h = requestHeaders(c.id, method, timeout, headers);
        if (select != null && !select.isEmpty()) {
            h.put("zccp-select", selectHeader(select));
        }
        if (dryRun) {
            h.put("zccp-dry-run", "1");
        }
        List<byte[]> msg = Wire.message(Wire.encode(Wire.PUBLISH, h, address), frames(content));
        engine.submit(() -> engine.calls.start(c, msg));
        return c.group;
    }

    /** Says GOODBYE (waiting at most 1 s for GOODBYE-OK) and stops. Outstanding calls fail. */
    @Override
    public void close() {
        engine.close(1000);
    }

    private static Map<String, String> requestHeaders(String id, String method, Duration timeout, Map<String, String> headers) {
        if (method == null || method.isEmpty()) {
            throw new IllegalArgumentException("a request needs a method");
        }
        Map<String, String> h = new LinkedHashMap<>();
        if (headers != null) {
            h.putAll(headers);
        }
        h.put("zccp-request-id", id);
        h.put("zccp-method", method);
        h.put("zccp-ttl", Long.toString(Math.max(1, timeout.toMillis())));
        return h;
    }

    private static String selectHeader(Map<String, String> select) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : select.entrySet()) {
            if ((e.getKey() + e.getValue()).matches(".*[,=].*")) {
                throw new IllegalArgumentException("label selections cannot contain ',' or '=': " + e);
            }
            sb.append(sb.length() == 0 ? "" : ",").append(e.getKey()).append('=').append(e.getValue());
        }
        return sb.toString();
    }

    private static List<byte[]> frames(byte[]... content) {
        return content == null ? Collections.emptyList() : Arrays.asList(content.clone());
    }

    private static void checkString(String s, String what) {
        if (s == null || Wire.utf8(s).length > 255) {
            throw new IllegalArgumentException(what + " must be at most 255 bytes");
        }
    }

    private <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(engine.opts.requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new ZccpException("no answer from the broker within " + engine.opts.requestTimeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ZccpException("interrupted", e);
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    private static ZccpException unwrap(ExecutionException e) {
        Throwable c = e.getCause();
        return c instanceof ZccpException ? (ZccpException) c : new ZccpException(String.valueOf(c), c);
    }
}
