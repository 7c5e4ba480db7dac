package org.zccp;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Command line for other languages' test suites, like {@code python3 -m
 * zccp}:
 *
 * <pre>
 * java -cp zccp.jar:jeromq.jar org.zccp.Main device --endpoint E --id ID [--label k=v]... [--subscribe EXPR]...
 *     an echo device: every method answers the request's content; "sleep"
 *     waits float(body) seconds first, "fail" answers device-error. Prints
 *     "ready" once subscribed; SIGTERM says GOODBYE and exits 0.
 * java -cp zccp.jar:jeromq.jar org.zccp.Main call --endpoint E [--timeout S] ID METHOD [BODY]
 *     one request; the reply's frames on stdout. Exit codes as zccp call:
 *     0 ok, 3 broker unreachable, 4 no such client, 5 timeout or expired,
 *     6 another error reply, 2 bad usage.
 * </pre>
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length == 0 || !(args[0].equals("device") || args[0].equals("call"))) {
            err.println("usage: org.zccp.Main device|call --endpoint E ...");
            return 2;
        }
        String endpoint = "tcp://127.0.0.1:7878";
        String id = "";
        double timeout = 5;
        Options o = new Options().connectTimeout(Duration.ofSeconds(10));
        List<String> subscribe = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            boolean hasValue = i + 1 < args.length;
            if (a.equals("--endpoint") && hasValue) {
                endpoint = args[++i];
            } else if (a.equals("--id") && hasValue) {
                id = args[++i];
            } else if (a.equals("--timeout") && hasValue) {
                timeout = Double.parseDouble(args[++i]);
            } else if (a.equals("--label") && hasValue) {
                String[] kv = args[++i].split("=", 2);
                if (kv.length != 2) {
                    err.println("--label wants k=v");
                    return 2;
                }
                o.label(kv[0], kv[1]);
            } else if (a.equals("--subscribe") && hasValue) {
                subscribe.add(args[++i]);
            } else {
                rest.add(a);
            }
        }
        if (args[0].equals("device")) {
            return device(endpoint, o.identifier(id).handleAll(Main::echo), subscribe, out, err);
        }
        if (rest.size() < 2) {
            err.println("usage: call --endpoint E [--timeout S] ID METHOD [BODY]");
            return 2;
        }
        if (id.isEmpty()) {
            id = "java-call-" + ProcessHandle.current().pid();
        }
        return call(endpoint, o.identifier(id), rest, Duration.ofMillis((long) (timeout * 1000)), out, err);
    }

    private static Response echo(Request r) throws Exception {
        if ("sleep".equals(r.method())) {
            Thread.sleep((long) (Double.parseDouble(r.text().trim().isEmpty() ? "0" : r.text().trim()) * 1000));
        } else if ("fail".equals(r.method())) {
            throw new DeviceException("device-error", "asked to fail");
        }
        return Response.ok(r.content().toArray(new byte[0][]));
    }

    private static int device(String endpoint, Options o, List<String> subscribe, PrintStream out, PrintStream err) throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        o.onError(e -> {
            err.println("zccp device: " + e.getMessage());
            if (e instanceof NoticeException && ((NoticeException) e).code().equals("taken-over")) {
                stop.countDown();
            }
        });
        Client c;
        try {
            c = Client.connect(endpoint, o);
        } catch (ZccpException e) {
            err.println(e.getMessage());
            return 3;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(c::close)); // GOODBYE on SIGTERM
        for (String expr : subscribe) {
            c.subscribe(expr, d -> { });
        }
        out.println("ready");
        out.flush();
        stop.await();
        return 1; // taken over
    }

    private static int call(String endpoint, Options o, List<String> rest, Duration timeout, PrintStream out, PrintStream err) throws IOException {
        try (Client c = Client.connect(endpoint, o)) {
            byte[][] body = rest.size() > 2 ? new byte[][] {rest.get(2).getBytes(StandardCharsets.UTF_8)} : new byte[0][];
            Reply r = c.request(rest.get(0), rest.get(1), timeout, Collections.emptyMap(), body)
                    .get(timeout.toMillis() + 5000, TimeUnit.MILLISECONDS);
            for (byte[] f : r.content()) {
                out.write(f);
            }
            out.flush();
            return 0;
        } catch (ZccpException e) {
            err.println(e.getMessage());
            return 3;
        } catch (ExecutionException e) {
            err.println("zccp call: " + e.getCause().getMessage());
            String code = e.getCause() instanceof RequestException ? ((RequestException) e.getCause()).code() : "";
            switch (code) {
                case "no-such-client":
                case "disconnected":
                    return 4;
                case RequestException.TIMEOUT:
                case "expired":
                    return 5;
                default:
                    return 6;
            }
        } catch (TimeoutException | InterruptedException e) {
            err.println("zccp call: " + e);
            return 5;
        }
    }
}
