package org.zccp;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Settings of a {@link Client}, built fluently:
 * {@code new Options().identifier("pdu-1").label("rack", "12").handle("outlet.off", h)}.
 * Bad values are rejected when set. Do not change an Options after passing
 * it to {@link Client#connect}: the client reads it from its own threads.
 */
public final class Options {
    String identifier = "";
    final Map<String, String> labels = new LinkedHashMap<>();
    Duration connectTimeout = Duration.ofSeconds(5);
    Duration requestTimeout = Duration.ofSeconds(10);
    Duration reconnectMin = Duration.ofMillis(100);
    Duration reconnectMax = Duration.ofSeconds(5);
    final Map<String, RequestHandler> handlers = new LinkedHashMap<>();
    RequestHandler handleAll;
    int handlerThreads = 4;
    Consumer<Delivery> onDirect;
    Consumer<ZccpException> onError;

    /** The identifier others use for DIRECT and requests; empty is anonymous. */
    public Options identifier(String id) {
        if (Wire.utf8(id).length > 255 || id.startsWith("$")) {
            throw new IllegalArgumentException("identifier must be at most 255 bytes and not start with $");
        }
        identifier = id;
        return this;
    }

    /** A label sent in HELLO (group requests select on labels). */
    public Options label(String name, String value) {
        if (name.isEmpty() || name.startsWith("zccp-") || Wire.utf8(name).length > 255) {
            throw new IllegalArgumentException("bad label name: " + name);
        }
        labels.put(name, value);
        return this;
    }

    /** How long {@link Client#connect} waits for the broker's HELLO-OK. */
    public Options connectTimeout(Duration d) {
        connectTimeout = positive(d, "connectTimeout");
        return this;
    }

    /** Default timeout of requests (also sent as their TTL). */
    public Options requestTimeout(Duration d) {
        requestTimeout = positive(d, "requestTimeout");
        return this;
    }

    /** Bounds of the backoff between attempts to get a session back. */
    public Options reconnect(Duration min, Duration max) {
        positive(min, "reconnect min");
        if (max.compareTo(min) < 0) {
            throw new IllegalArgumentException("reconnect max below min");
        }
        reconnectMin = min;
        reconnectMax = max;
        return this;
    }

    /** Serves {@code method} as a device; the client then declares {@code zccp-serves: 1}. */
    public Options handle(String method, RequestHandler h) {
        if (method.isEmpty() || h == null) {
            throw new IllegalArgumentException("handler needs a method and a function");
        }
        handlers.put(method, h);
        return this;
    }

    /** Serves every method without its own handler. */
    public Options handleAll(RequestHandler h) {
        handleAll = h;
        return this;
    }

    /** At most this many handlers run at once (default 4). */
    public Options handlerThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("handlerThreads must be at least 1");
        }
        handlerThreads = n;
        return this;
    }

    /** Receives DIRECT messages sent to us (they are not subscriptions). */
    public Options onDirect(Consumer<Delivery> l) {
        onDirect = l;
        return this;
    }

    /** Receives notices not tied to a call (e.g. {@code no-such-client} after a DIRECT) and session events. */
    public Options onError(Consumer<ZccpException> l) {
        onError = l;
        return this;
    }

    boolean serves() {
        return !handlers.isEmpty() || handleAll != null;
    }

    Map<String, String> helloHeaders() {
        Map<String, String> h = new LinkedHashMap<>(labels);
        if (serves()) {
            h.put("zccp-serves", "1");
        }
        return Collections.unmodifiableMap(h);
    }

    private static Duration positive(Duration d, String what) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive");
        }
        return d;
    }
}
