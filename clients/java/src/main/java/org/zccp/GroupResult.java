package org.zccp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The outcome of a group request: whom the broker routed it to (the
 * receipt), the final reply of each, and who did not answer in time.
 */
public final class GroupResult {
    private final List<String> recipients;
    private final Map<String, Reply> replies;

    GroupResult(List<String> recipients, Map<String, Reply> replies) {
        this.recipients = Collections.unmodifiableList(new ArrayList<>(recipients));
        this.replies = Collections.unmodifiableMap(new LinkedHashMap<>(replies));
    }

    /** The identifiers listed in the broker's receipt. */
    public List<String> recipients() {
        return recipients;
    }

    /** Final replies by recipient identifier (ok or error). */
    public Map<String, Reply> replies() {
        return replies;
    }

    /** Recipients with no final reply before the deadline. */
    public List<String> missing() {
        List<String> m = new ArrayList<>();
        for (String r : recipients) {
            if (!replies.containsKey(r)) {
                m.add(r);
            }
        }
        return m;
    }

    public int okCount() {
        int n = 0;
        for (Reply r : replies.values()) {
            if (r.isOk()) {
                n++;
            }
        }
        return n;
    }

    public int errorCount() {
        return replies.size() - okCount();
    }

    /** True when every recipient answered ok. */
    public boolean allOk() {
        return okCount() == recipients.size();
    }

    @Override
    public String toString() {
        return "summary: expected " + recipients.size() + ", ok " + okCount() + ", error " + errorCount() + ", missing " + missing().size();
    }
}
