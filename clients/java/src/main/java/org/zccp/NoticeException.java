package org.zccp;

import java.util.Map;

/**
 * A notice from the broker (docs/protocol.md §6.2): a command was refused,
 * e.g. {@code no-such-client} for a DIRECT or {@code bad-expression} for a
 * subscription. {@link #code()} is the broker's error code.
 */
public class NoticeException extends ZccpException {
    private static final long serialVersionUID = 1L;
    private final String code;
    private final String command;
    private final String address;

    NoticeException(Map<String, String> h) {
        this(h.getOrDefault("zccp-error", "unknown"), h.getOrDefault("zccp-reason", ""),
                h.getOrDefault("zccp-command", ""), h.getOrDefault("zccp-address", ""));
    }

    NoticeException(String code, String reason, String command, String address) {
        super(code + ": " + reason);
        this.code = code;
        this.command = command;
        this.address = address;
    }

    /** The error code, e.g. {@code no-such-client}. */
    public String code() {
        return code;
    }

    /** The command concerned ({@code DIRECT}, {@code SUBSCRIBE}, ...), or empty. */
    public String command() {
        return command;
    }

    /** The address, identifier or expression the command named, or empty. */
    public String address() {
        return address;
    }
}
