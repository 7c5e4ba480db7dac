package org.zccp;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Translates a subscription expression (CZMQ zrex dialect, docs/protocol.md
 * §5.2) into a java.util.regex pattern over the address's bytes, so that a
 * delivery can be handed to the listeners whose expression matches. The
 * broker decides what we receive; this only routes it locally.
 */
final class Zrex {
    private Zrex() {}

    /** The address as one char per byte, the way patterns from {@link #compile} see it. */
    static String bytes(String address) {
        return new String(address.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }

    /** The pattern, or null when the expression cannot be translated. */
    static Pattern compile(String expression) {
        String e = bytes(expression);
        StringBuilder out = new StringBuilder();
        try {
            for (int i = 0; i < e.length(); i++) {
                char c = e.charAt(i);
                switch (c) {
                    case '\\':
                        i++;
                        if (i >= e.length()) {
                            return null;
                        }
                        out.append(escape(e.charAt(i), false));
                        break;
                    case '[':
                        i = set(e, i, out);
                        break;
                    case '$':
                        out.append("\\z");
                        break;
                    case '^': case '.': case '*': case '+': case '?': case '(': case ')': case '|':
                        out.append(c);
                        break;
                    default:
                        out.append(literal(c));
                }
            }
            return Pattern.compile(out.toString(), Pattern.DOTALL);
        } catch (IllegalArgumentException ex) { // PatternSyntaxException included
            return null;
        }
    }

    /** Appends a set starting at e[i] == '[' and returns the index of its ']'. */
    private static int set(String e, int i, StringBuilder out) {
        out.append('[');
        i++;
        if (i < e.length() && e.charAt(i) == '^') {
            out.append('^');
            i++;
        }
        for (; i < e.length() && e.charAt(i) != ']'; i++) {
            char c = e.charAt(i);
            if (c == '\\' && i + 1 < e.length()) {
                out.append(escape(e.charAt(++i), true));
            } else {
                out.append(literal(c));
            }
        }
        if (i >= e.length()) {
            throw new IllegalArgumentException("unterminated set");
        }
        out.append(']');
        return i;
    }

    private static String escape(char c, boolean inSet) {
        switch (c) {
            case 's': return inSet ? " \\t\\n\\x0B\\f\\r" : "[ \\t\\n\\x0B\\f\\r]";
            case 'S': return inSet ? literal('S') : "[^ \\t\\n\\x0B\\f\\r]";
            case 'd': return inSet ? "0-9" : "[0-9]";
            case 'D': return inSet ? literal('D') : "[^0-9]";
            case 'a': return inSet ? "A-Za-z" : "[A-Za-z]";
            case 'A': return inSet ? literal('A') : "[^A-Za-z]";
            case 'w': return inSet ? "A-Za-z0-9" : "[A-Za-z0-9]";
            case 'W': return inSet ? literal('W') : "[^A-Za-z0-9]";
            case 'n': return "\\n";
            case 'r': return "\\r";
            case 't': return "\\t";
            case '0': return "\\x00";
            default: return literal(c);
        }
    }

    private static String literal(char c) {
        return String.format("\\x{%X}", (int) c);
    }
}
