package org.zccp;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** A message delivered by the broker: a publication, a DIRECT, or a broker event. */
public final class Delivery {
    private final String sender;
    private final String address;
    private final Map<String, String> headers;
    private final List<byte[]> content;

    Delivery(String sender, String address, Map<String, String> headers, List<byte[]> content) {
        this.sender = sender;
        this.address = address;
        this.headers = headers;
        this.content = content;
    }

    /** The identifier of the client that sent it ({@code $zccp} for the broker). */
    public String sender() {
        return sender;
    }

    /** The address it was published to, or our identifier for a DIRECT. */
    public String address() {
        return address;
    }

    /** The headers, as sent (read-only). */
    public Map<String, String> headers() {
        return headers;
    }

    /** The content frames (read-only list; do not modify the arrays). */
    public List<byte[]> content() {
        return content;
    }

    /** The first content frame as UTF-8 text, or "" when there is none. */
    public String text() {
        return content.isEmpty() ? "" : new String(content.get(0), StandardCharsets.UTF_8);
    }

    /** Notifications the broker dropped for us before this one ({@code zccp-missed}), usually 0. */
    public long missed() {
        String m = headers.get("zccp-missed");
        return m == null ? 0 : Long.parseLong(m);
    }

    @Override
    public String toString() {
        return "Delivery{sender=" + sender + ", address=" + address + ", headers=" + headers + ", frames=" + content.size() + "}";
    }
}
