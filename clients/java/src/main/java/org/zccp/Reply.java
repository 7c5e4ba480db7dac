package org.zccp;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** A device's reply to a request (docs/protocol.md §6.7). */
public final class Reply {
    private final String from;
    private final Map<String, String> headers;
    private final List<byte[]> content;

    Reply(String from, Map<String, String> headers, List<byte[]> content) {
        this.from = from;
        this.headers = headers;
        this.content = content;
    }

    /** The identifier of the device that answered (for broker-made replies, the recipient concerned). */
    public String from() {
        return from;
    }

    /** {@code ok}, {@code error} or {@code progress}. */
    public String status() {
        return headers.getOrDefault("zccp-status", "");
    }

    public boolean isOk() {
        return "ok".equals(status());
    }

    /** The error code of an error reply, else "". */
    public String code() {
        return headers.getOrDefault("zccp-error", "");
    }

    /** The reason of an error reply, else "". */
    public String reason() {
        return headers.getOrDefault("zccp-reason", "");
    }

    public Map<String, String> headers() {
        return headers;
    }

    public List<byte[]> content() {
        return content;
    }

    /** The first content frame as UTF-8 text, or "". */
    public String text() {
        return content.isEmpty() ? "" : new String(content.get(0), StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "Reply{from=" + from + ", status=" + status() + (isOk() ? "" : ", code=" + code()) + ", frames=" + content.size() + "}";
    }
}
