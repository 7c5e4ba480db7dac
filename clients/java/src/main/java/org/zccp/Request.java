package org.zccp;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/** A request received by a device (docs/protocol.md §6.7). */
public final class Request {
    private final Delivery delivery;
    private final Instant deadline;
    private final BiConsumer<Request, String> progress;
    private volatile boolean cancelled;

    Request(Delivery delivery, Instant deadline, BiConsumer<Request, String> progress) {
        this.delivery = delivery;
        this.deadline = deadline;
        this.progress = progress;
    }

    /** The requester's identifier (replies go there). */
    public String from() {
        return delivery.sender();
    }

    /** Our identifier for a request to one device, or the group address. */
    public String address() {
        return delivery.address();
    }

    public String method() {
        return delivery.headers().get("zccp-method");
    }

    public String id() {
        return delivery.headers().get("zccp-request-id");
    }

    public Map<String, String> headers() {
        return delivery.headers();
    }

    public List<byte[]> content() {
        return delivery.content();
    }

    /** The first content frame as UTF-8 text, or "". */
    public String text() {
        return delivery.text();
    }

    /** When the request must be done by (from its TTL), or null without one. */
    public Instant deadline() {
        return deadline;
    }

    /** True once the requester has cancelled the request; a handler should then stop. */
    public boolean isCancelled() {
        return cancelled;
    }

    void cancel() {
        cancelled = true;
    }

    /** Sends a progress reply: the job is still running (the requester extends its timeout). */
    public void progress(String text) {
        progress.accept(this, text == null ? "" : text);
    }

    byte[] textBytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
