package org.zccp;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;

import java.util.regex.Pattern;
import org.junit.Test;

/** The local translation of zrex expressions (docs/protocol.md §5.2) used to route deliveries to listeners. */
public class ZrexTest {
    private static boolean matches(String expr, String address) {
        Pattern p = Zrex.compile(expr);
        assertNotNull("untranslatable: " + expr, p);
        return p.matcher(Zrex.bytes(address)).find();
    }

    @Test
    public void dialect() {
        Object[][] cases = {
            {"H.*O", "(HELLO, WORLD)", true},
            {"^power\\.rack12\\.", "power.rack12.outlet", true},
            {"^power\\.rack12\\.", "xpower.rack12.", false},
            {"[a-z]", "-", true},          // no ranges: a, -, z
            {"[a-z]", "b", false},
            {"\\a+$", "abc", true},        // \a is alphabetic
            {"^\\a+$", "ab1", false},
            {"\\w", "_", false},           // \w has no underscore
            {"\\d\\d", "x42", true},
            {"a{2}", "a{2}", true},        // braces are literal
            {"a{2}", "aa", false},
            {"end$", "the end", true},
            {"end$", "end\n", false},      // $ is the very end
            {"a.b", "a\nb", true},         // . matches newline
            {"x|y", "y", true},
            {"\\x41", "x41", true},        // \x is just x
            {"[^ab]", "ab", false},
            {"\\s", "a\tb", true},
        };
        for (Object[] c : cases) {
            assertEquals(c[0] + " ~ " + c[1], c[2], matches((String) c[0], (String) c[1]));
        }
    }
}
