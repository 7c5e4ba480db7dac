package org.zccp;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Requests this client made and the replies routed to them. Request ids
 * are a random per-client prefix and a counter, so that they stay unique
 * across restarts of the process (a device answers a repeated id from its
 * record of recent answers). I/O thread only, except {@link #nextId}.
 */
final class Calls {
    static final class Call {
        final String id;
        final String device; // null for a group request
        final long timeoutNanos;
        long deadline;
        CompletableFuture<Reply> single;
        CompletableFuture<GroupResult> group;
        Consumer<Reply> onReply;
        boolean dryRun;
        List<String> recipients; // from the receipt
        final Map<String, Reply> replies = new LinkedHashMap<>();

        Call(String id, String device, long timeoutNanos) {
            this.id = id;
            this.device = device;
            this.timeoutNanos = timeoutNanos;
            this.deadline = System.nanoTime() + timeoutNanos;
        }
    }

    private final Engine engine;
    private final Map<String, Call> calls = new HashMap<>();
    private final String prefix;
    private long seq;

    Calls(Engine engine) {
        this.engine = engine;
        byte[] r = new byte[8];
        new SecureRandom().nextBytes(r);
        StringBuilder sb = new StringBuilder();
        for (byte b : r) {
            sb.append(String.format("%02x", b));
        }
        prefix = sb.append('-').toString();
    }

    synchronized String nextId() {
        return prefix + (++seq);
    }

    void start(Call c, List<byte[]> message) {
        calls.put(c.id, c);
        engine.send(message);
    }

    void reply(Delivery d) {
        Map<String, String> h = d.headers();
        Call c = calls.get(h.get("zccp-reply-to"));
        if (c == null) {
            return; // late, or for a call we gave up on
        }
        boolean fromBroker = Engine.BROKER.equals(d.sender());
        if (c.group != null && fromBroker && "$zccp.receipt".equals(d.address())) {
            receipt(c, d);
            return;
        }
        String from = fromBroker ? h.getOrDefault("zccp-recipient", c.device == null ? "" : c.device) : d.sender();
        Reply r = new Reply(from, h, d.content());
        if ("progress".equals(r.status())) {
            c.deadline = System.nanoTime() + c.timeoutNanos;
            if (c.onReply != null) {
                engine.callback(() -> c.onReply.accept(r));
            }
            return;
        }
        if (c.single != null) {
            calls.remove(c.id);
            if (r.isOk()) {
                engine.callback(() -> c.single.complete(r));
            } else {
                engine.callback(() -> c.single.completeExceptionally(new RequestException(r.code(), r.reason(), r)));
            }
            return;
        }
        if (c.recipients == null) {
            // An error for the whole group before any receipt (e.g. bad-request).
            calls.remove(c.id);
            engine.callback(() -> c.group.completeExceptionally(new RequestException(r.code(), r.reason(), r)));
            return;
        }
        if (!c.recipients.contains(from) || c.replies.containsKey(from)) {
            return;
        }
        c.replies.put(from, r);
        if (c.onReply != null) {
            engine.callback(() -> c.onReply.accept(r));
        }
        if (c.replies.size() >= c.recipients.size()) {
            finish(c);
        }
    }

    private void receipt(Call c, Delivery d) {
        int n;
        try {
            n = Integer.parseInt(d.headers().getOrDefault("zccp-recipients", "0"));
        } catch (NumberFormatException e) {
            n = 0;
        }
        List<String> rs = new ArrayList<>();
        for (int i = 0; i < n && i < d.content().size(); i++) {
            rs.add(new String(d.content().get(i), StandardCharsets.UTF_8));
        }
        c.recipients = Collections.unmodifiableList(rs);
        if (c.dryRun || rs.isEmpty()) {
            finish(c);
        }
    }

    private void finish(Call c) {
        calls.remove(c.id);
        GroupResult g = new GroupResult(c.recipients, c.replies);
        engine.callback(() -> c.group.complete(g));
    }

    void expire(long now) {
        for (Iterator<Call> it = calls.values().iterator(); it.hasNext(); ) {
            Call c = it.next();
            if (now - c.deadline < 0) {
                continue;
            }
            if (c.group != null && c.recipients != null) {
                it.remove();
                GroupResult g = new GroupResult(c.recipients, c.replies);
                engine.callback(() -> c.group.complete(g));
                continue;
            }
            it.remove();
            RequestException e = new RequestException(RequestException.TIMEOUT,
                    c.group != null ? "no receipt from the broker in time" : "no reply from " + c.device + " in time", null);
            if (c.single != null) {
                engine.send(Wire.message(Wire.encode(Wire.DIRECT, Collections.singletonMap("zccp-cancel-request", c.id), c.device),
                        Collections.emptyList()));
                engine.callback(() -> c.single.completeExceptionally(e));
            } else {
                engine.callback(() -> c.group.completeExceptionally(e));
            }
        }
    }

    void failAll(ZccpException e) {
        for (Call c : calls.values()) {
            if (c.single != null) {
                engine.callback(() -> c.single.completeExceptionally(e));
            } else {
                engine.callback(() -> c.group.completeExceptionally(e));
            }
        }
        calls.clear();
    }
}
