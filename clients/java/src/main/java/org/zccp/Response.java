package org.zccp;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a {@link RequestHandler} answers: an ok reply with headers and content frames. */
public final class Response {
    final Map<String, String> headers = new LinkedHashMap<>();
    final List<byte[]> content;

    private Response(List<byte[]> content) {
        this.content = content;
    }

    /** An ok reply with these content frames. */
    public static Response ok(byte[]... frames) {
        return new Response(Collections.unmodifiableList(Arrays.asList(frames.clone())));
    }

    /** An ok reply with one UTF-8 text frame. */
    public static Response ok(String text) {
        return ok(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Adds an application header (names starting with {@code zccp-} are reserved). */
    public Response header(String name, String value) {
        if (name.startsWith("zccp-")) {
            throw new IllegalArgumentException("reserved header name: " + name);
        }
        headers.put(name, value);
        return this;
    }
}
