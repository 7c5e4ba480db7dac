package org.zccp;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The client's subscriptions, kept so that they can be sent again after a
 * lost session, and the SUBSCRIBEs awaiting their SUBSCRIBE-OK (answered in
 * order; a notice just before an OK is that SUBSCRIBE's failure). I/O
 * thread only.
 */
final class Subscriptions {
    private static final class Sub {
        final Pattern pattern;
        final List<Consumer<Delivery>> listeners = new ArrayList<>();

        Sub(String expression) {
            pattern = Zrex.compile(expression);
        }
    }

    private static final class Pending {
        final String expression;
        final boolean cancel;
        final CompletableFuture<Void> done; // null for a re-subscription nobody waits for
        NoticeException notice;

        Pending(String expression, boolean cancel, CompletableFuture<Void> done) {
            this.expression = expression;
            this.cancel = cancel;
            this.done = done;
        }
    }

    private final Engine engine;
    private final Map<String, Sub> subs = new LinkedHashMap<>();
    private final ArrayDeque<Pending> inflight = new ArrayDeque<>();
    private final List<Pending> waiting = new ArrayList<>(); // callers waiting across a session loss

    Subscriptions(Engine engine) {
        this.engine = engine;
    }

    void add(String expression, Consumer<Delivery> listener, CompletableFuture<Void> done) {
        Sub s = subs.get(expression);
        if (s != null) {
            s.listeners.add(listener);
            engine.callback(() -> done.complete(null));
            return;
        }
        s = new Sub(expression);
        s.listeners.add(listener);
        subs.put(expression, s);
        send(new Pending(expression, false, done));
    }

    void remove(String expression, CompletableFuture<Void> done) {
        if (subs.remove(expression) == null) {
            engine.callback(() -> done.complete(null));
            return;
        }
        send(new Pending(expression, true, done));
    }

    private void send(Pending p) {
        if (engine.state != Engine.State.READY) {
            if (p.cancel) {
                engine.callback(() -> p.done.complete(null)); // the new session will not have it
            } else {
                waiting.add(p);
            }
            return;
        }
        Map<String, String> h = p.cancel ? Collections.singletonMap("zccp-cancel", "1") : null;
        inflight.add(p);
        engine.sendNow(Collections.singletonList(Wire.encode(Wire.SUBSCRIBE, h, p.expression)));
    }

    /** A SUBSCRIBE-OK arrived: it answers the oldest SUBSCRIBE in flight. */
    void acknowledged() {
        Pending p = inflight.poll();
        if (p == null || p.done == null) {
            if (p != null && p.notice != null) {
                engine.report(p.notice);
            }
            return;
        }
        if (p.notice != null && !p.cancel) {
            subs.remove(p.expression);
            NoticeException n = p.notice;
            engine.callback(() -> p.done.completeExceptionally(n));
        } else {
            engine.callback(() -> p.done.complete(null));
        }
    }

    /** A SUBSCRIBE notice: it belongs to the SUBSCRIBE in flight at the head. */
    boolean noticeForHead(NoticeException n) {
        Pending head = inflight.peek();
        if (head == null || head.notice != null) {
            return false;
        }
        head.notice = n;
        return true;
    }

    /** A new session: send every subscription again. */
    void resubscribe() {
        List<Pending> carried = new ArrayList<>(waiting);
        waiting.clear();
        for (String expression : subs.keySet()) {
            CompletableFuture<Void> done = null;
            for (Iterator<Pending> it = carried.iterator(); it.hasNext(); ) {
                Pending p = it.next();
                if (p.expression.equals(expression)) {
                    done = p.done;
                    it.remove();
                    break;
                }
            }
            send(new Pending(expression, false, done));
        }
        for (Pending p : carried) {
            if (p.done != null) {
                engine.callback(() -> p.done.complete(null)); // removed meanwhile
            }
        }
    }

    void sessionLost() {
        for (Pending p : inflight) {
            if (p.done != null && !p.cancel) {
                waiting.add(p);
            } else if (p.done != null) {
                engine.callback(() -> p.done.complete(null));
            }
        }
        inflight.clear();
    }

    /** Hands d to the listeners whose expression matches its address, or to all when none does. */
    void dispatch(Delivery d) {
        String address = Zrex.bytes(d.address());
        List<Consumer<Delivery>> matched = new ArrayList<>();
        for (Sub s : subs.values()) {
            if (s.pattern != null && s.pattern.matcher(address).find()) {
                matched.addAll(s.listeners);
            }
        }
        if (matched.isEmpty()) {
            for (Sub s : subs.values()) {
                matched.addAll(s.listeners); // never lose a delivery to a translation gap
            }
        }
        List<Consumer<Delivery>> once = new ArrayList<>(); // a listener on two matching expressions sees d once
        for (Consumer<Delivery> l : matched) {
            if (once.stream().noneMatch(x -> x == l)) {
                once.add(l);
                engine.callback(() -> l.accept(d));
            }
        }
    }

    void failAll(ZccpException e) {
        List<Pending> all = new ArrayList<>(inflight);
        all.addAll(waiting);
        inflight.clear();
        waiting.clear();
        for (Pending p : all) {
            if (p.done != null) {
                engine.callback(() -> p.done.completeExceptionally(e));
            }
        }
    }
}
