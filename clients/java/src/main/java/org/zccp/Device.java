package org.zccp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves requests (docs/protocol.md §6.7) with the handlers of the
 * client's Options, on a pool of handler threads. A repeated (requester,
 * id) is answered from the record of recent answers (10 minutes, 10,000
 * answers) rather than run again. I/O thread only, except handler runs.
 */
final class Device {
    private static final int ANSWERS = 10_000;
    private static final long ANSWER_NANOS = 10L * 60 * 1_000_000_000L;

    private static final class Answer {
        final List<byte[]> message;
        final long at = System.nanoTime();

        Answer(List<byte[]> message) {
            this.message = message;
        }
    }

    private final Engine engine;
    private final ExecutorService pool;
    private final LinkedHashMap<String, Answer> answered = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Request> running = new HashMap<>();

    Device(Engine engine) {
        this.engine = engine;
        this.pool = Executors.newFixedThreadPool(engine.opts.handlerThreads, Engine.daemon("zccp-handler"));
    }

    void serve(Delivery d) {
        Map<String, String> h = d.headers();
        String id = h.get("zccp-request-id");
        String key = d.sender() + "\0" + id;
        Answer a = answered.get(key);
        if (a != null && System.nanoTime() - a.at < ANSWER_NANOS) {
            engine.send(a.message);
            return;
        }
        if (running.containsKey(key)) {
            return; // a retry of a request still running: its answer will come
        }
        String method = h.get("zccp-method");
        RequestHandler handler = engine.opts.handlers.getOrDefault(method, engine.opts.handleAll);
        if (handler == null) {
            answer(key, error(d.sender(), id, "no-such-method", "no handler for method " + method));
            return;
        }
        java.time.Instant deadline = null;
        String ttl = h.get("zccp-ttl");
        if (ttl != null) {
            long ms;
            try {
                ms = Long.parseLong(ttl.trim());
            } catch (NumberFormatException e) {
                ms = 0;
            }
            if (ms <= 0) {
                answer(key, error(d.sender(), id, "expired", "the request's TTL ran out before it started"));
                return;
            }
            deadline = java.time.Instant.now().plusMillis(ms);
        }
        Request r = new Request(d, deadline, (req, text) -> engine.submit(() -> engine.send(
                reply(req.from(), req.id(), "progress", Collections.emptyMap(), Collections.singletonList(req.textBytes(text))))));
        running.put(key, r);
        pool.execute(() -> run(key, handler, r));
    }

    private void run(String key, RequestHandler handler, Request r) {
        List<byte[]> msg;
        try {
            Response resp = handler.handle(r);
            if (resp == null) {
                resp = Response.ok();
            }
            msg = reply(r.from(), r.id(), "ok", resp.headers, resp.content);
        } catch (DeviceException e) {
            msg = error(r.from(), r.id(), e.code(), String.valueOf(e.getMessage()));
        } catch (Exception e) {
            msg = error(r.from(), r.id(), "device-error", e.toString());
        }
        List<byte[]> out = msg;
        engine.submit(() -> {
            running.remove(key);
            if (!r.isCancelled()) {
                answer(key, out);
            }
        });
    }

    void cancel(String from, String id) {
        Request r = running.remove(from + "\0" + id);
        if (r != null) {
            r.cancel();
        }
    }

    private void answer(String key, List<byte[]> message) {
        answered.put(key, new Answer(message));
        Engine.trim(answered, ANSWERS);
        engine.send(message);
    }

    static List<byte[]> reply(String to, String id, String status, Map<String, String> extra, List<byte[]> content) {
        Map<String, String> h = new LinkedHashMap<>(extra);
        h.put("zccp-reply-to", id);
        h.put("zccp-status", status);
        return Wire.message(Wire.encode(Wire.DIRECT, h, to), content);
    }

    static List<byte[]> error(String to, String id, String code, String reason) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("zccp-error", code);
        h.put("zccp-reason", reason);
        List<byte[]> content = new ArrayList<>();
        content.add(Wire.utf8(reason));
        return reply(to, id, "error", h, content);
    }

    void shutdown() {
        pool.shutdownNow();
    }
}
