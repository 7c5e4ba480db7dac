package org.zccp;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A real zccpd (built from this repository's cmd/zccpd; the directory of
 * the binaries is the system property zccp.bin) on a free tcp port, Go
 * {@code zccp} processes, and a bounded {@link #eventually}.
 */
final class Harness {
    static final String BIN = System.getProperty("zccp.bin", "../../bin");
    /** Short liveness settings so that expiry and recovery happen within a test. */
    static final long PING_MS = 500, TIMEOUT_MS = 3000; // short, yet above the stalls of a loaded 2-core machine

    private Harness() {}

    static final class Broker implements AutoCloseable {
        final int port;
        final String endpoint;
        final File log;
        private Process proc;

        Broker() throws IOException {
            this(freePort());
        }

        private final List<String> extra;

        Broker(int port) throws IOException {
            this(port, "");
        }

        /** A broker whose bind endpoint has a scheme prefix (e.g. "curve+") and extra flags. */
        Broker(int port, String prefix, String... extra) throws IOException {
            this.port = port;
            this.endpoint = "tcp://127.0.0.1:" + port;
            this.bind = prefix + endpoint;
            this.extra = Arrays.asList(extra);
            this.log = File.createTempFile("zccpd-java-", ".log");
            log.deleteOnExit();
            start();
        }

        private final String bind;

        void start() throws IOException {
            List<String> cmd = new ArrayList<>(Arrays.asList(BIN + "/zccpd", "--bind", bind, "--ping-interval", PING_MS + "ms",
                    "--timeout", TIMEOUT_MS + "ms", "--log-level", "debug"));
            cmd.addAll(extra);
            proc = new ProcessBuilder(cmd)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
            eventually("zccpd listening on " + endpoint, 10_000, () -> logText().contains("listening"));
        }

        /** Kills the broker (SIGKILL: no GOODBYE for anyone) and waits for it. */
        void kill() throws InterruptedException {
            proc.destroyForcibly();
            proc.waitFor(10, TimeUnit.SECONDS);
        }

        String logText() {
            try {
                return new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }

        @Override
        public void close() throws InterruptedException {
            proc.destroy();
            if (!proc.waitFor(10, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }

    /** A peer process (Go zccp device or call, or another language's) with its output captured. */
    static final class Go implements AutoCloseable {
        final Process proc;
        final File out;

        Go(String... args) throws IOException {
            this(null, withZccp(args));
        }

        private Go(File dir, List<String> cmd) throws IOException {
            out = File.createTempFile("zccp-peer-", ".out");
            out.deleteOnExit();
            proc = new ProcessBuilder(cmd).directory(dir).redirectErrorStream(true).redirectOutput(out).start();
        }

        /** Any other program (another language's peer), run in dir (null: here). */
        static Go exec(File dir, List<String> cmd) throws IOException {
            return new Go(dir, cmd);
        }

        private static List<String> withZccp(String... args) {
            List<String> cmd = new ArrayList<>();
            cmd.add(BIN + "/zccp");
            cmd.addAll(Arrays.asList(args));
            return cmd;
        }

        /** Waits for the process to exit and returns its exit code. */
        int waitFor(long ms) throws InterruptedException {
            if (!proc.waitFor(ms, TimeUnit.MILLISECONDS)) {
                proc.destroyForcibly();
                throw new AssertionError("zccp did not finish within " + ms + " ms: " + output());
            }
            return proc.exitValue();
        }

        String output() {
            try {
                return new String(Files.readAllBytes(out.toPath()), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }

        @Override
        public void close() throws InterruptedException {
            proc.destroy();
            proc.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Polls cond every 10 ms until it holds, failing after ms milliseconds. */
    static void eventually(String what, long ms, BooleanSupplier cond) {
        long deadline = System.nanoTime() + ms * 1_000_000;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + ms + " ms: " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted");
            }
        }
    }
}
