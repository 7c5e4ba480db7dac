package org.zccp;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** ZCCP/1 frame 1 encoding and decoding (docs/protocol.md §2, §3). */
final class Wire {
    static final int HELLO = 1, HELLO_OK = 2, SUBSCRIBE = 3, SUBSCRIBE_OK = 4, PUBLISH = 5, DIRECT = 6,
            DELIVER = 7, GOODBYE = 8, GOODBYE_OK = 9, PING = 10, PING_OK = 11, INVALID = 12;

    /** A decoded command: id, the string fields it has, headers, content frames. */
    static final class Command {
        final int id;
        String sender = "", address = "";
        Map<String, String> headers = Collections.emptyMap();
        List<byte[]> content = Collections.emptyList();

        Command(int id) {
            this.id = id;
        }
    }

    private Wire() {}

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = utf8(s);
        if (b.length > 255) {
            throw new IllegalArgumentException("ZCCP strings are at most 255 bytes: " + s);
        }
        out.write(b.length);
        out.write(b, 0, b.length);
    }

    private static void u32(ByteArrayOutputStream out, long v) {
        out.write((int) (v >>> 24));
        out.write((int) (v >>> 16));
        out.write((int) (v >>> 8));
        out.write((int) v);
    }

    private static void headers(ByteArrayOutputStream out, Map<String, String> h) {
        u32(out, h == null ? 0 : h.size());
        if (h == null) {
            return;
        }
        for (Map.Entry<String, String> e : h.entrySet()) {
            string(out, e.getKey());
            byte[] v = utf8(e.getValue());
            u32(out, v.length);
            out.write(v, 0, v.length);
        }
    }

    /** Frame 1 of a command with the given string fields (in wire order) and headers. */
    static byte[] encode(int id, Map<String, String> h, String... fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64);
        out.write(0xAA);
        out.write(0xAA);
        out.write(id);
        for (String f : fields) {
            string(out, f);
        }
        if (id == HELLO || id == SUBSCRIBE || id == PUBLISH || id == DIRECT) {
            headers(out, h);
        }
        return out.toByteArray();
    }

    /** A whole message: frame 1 followed by the content frames. */
    static List<byte[]> message(byte[] frame1, List<byte[]> content) {
        List<byte[]> m = new ArrayList<>(1 + content.size());
        m.add(frame1);
        m.addAll(content);
        return m;
    }

    /** Cursor over frame 1 that fails on any field running past the end. */
    private static final class Reader {
        final byte[] b;
        int pos;

        Reader(byte[] b, int pos) {
            this.b = b;
            this.pos = pos;
        }

        void need(long n) {
            if (n < 0 || pos + n > b.length) {
                throw new ZccpException("malformed message from the broker: field runs past the frame");
            }
        }

        String string() {
            need(1);
            int n = b[pos++] & 0xFF;
            need(n);
            String s = new String(b, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        long u32() {
            need(4);
            long v = ((b[pos] & 0xFFL) << 24) | ((b[pos + 1] & 0xFFL) << 16) | ((b[pos + 2] & 0xFFL) << 8) | (b[pos + 3] & 0xFFL);
            pos += 4;
            return v;
        }

        Map<String, String> headers() {
            long count = u32();
            Map<String, String> h = new LinkedHashMap<>();
            for (long i = 0; i < count; i++) {
                String name = string();
                long n = u32();
                need(n);
                h.put(name, new String(b, pos, (int) n, StandardCharsets.UTF_8));
                pos += (int) n;
            }
            return Collections.unmodifiableMap(h);
        }
    }

    /** Decodes a message from the broker. */
    static Command decode(List<byte[]> frames) {
        byte[] f = frames.get(0);
        if (f.length < 3 || (f[0] & 0xFF) != 0xAA || (f[1] & 0xFF) != 0xAA) {
            throw new ZccpException("malformed message from the broker: bad signature");
        }
        Command c = new Command(f[2] & 0xFF);
        Reader r = new Reader(f, 3);
        switch (c.id) {
            case DELIVER:
                c.sender = r.string();
                c.address = r.string();
                c.headers = r.headers();
                c.content = Collections.unmodifiableList(new ArrayList<>(frames.subList(1, frames.size())));
                break;
            case HELLO_OK:
            case GOODBYE_OK:
                c.headers = r.headers();
                break;
            default:
                break;
        }
        return c;
    }
}
