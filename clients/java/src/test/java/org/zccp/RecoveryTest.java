package org.zccp;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.Test;

/** Recovery from a broker restart: re-HELLO and re-subscribe without the application noticing. */
public class RecoveryTest {
    @Test
    public void brokerRestartRecoversSubscriptions() throws Exception {
        Harness.Broker broker = new Harness.Broker();
        BlockingQueue<Delivery> got = new LinkedBlockingQueue<>();
        BlockingQueue<ZccpException> events = new LinkedBlockingQueue<>();
        try (Client sub = Client.connect(broker.endpoint, new Options().identifier("r-sub").onError(events::add).connectTimeout(java.time.Duration.ofSeconds(15)))) {
            sub.subscribe("^restart\\.", got::add);
            sub.subscribe("^other$", got::add);
            try (Client pub = Client.connect(broker.endpoint, new Options().identifier("r-pub").connectTimeout(java.time.Duration.ofSeconds(15)))) {
                pub.publish("restart.before", "before");
                assertEquals("before", got.poll(5, TimeUnit.SECONDS).text());
            }
            broker.kill();
            broker.start();
            Harness.eventually("the subscriber has a new session", 15_000, () -> sub.sessions() == 2 && sub.isConnected());
            try (Client pub = Client.connect(broker.endpoint, new Options().identifier("r-pub2").connectTimeout(java.time.Duration.ofSeconds(15)))) {
                // SUBSCRIBE-OKs of the re-subscription may still be on their
                // way: publish until one arrives, then check both expressions.
                Harness.eventually("a delivery after the restart", 10_000, () -> {
                    pub.publish("restart.after", "after");
                    try {
                        Delivery d = got.poll(100, TimeUnit.MILLISECONDS);
                        return d != null && d.text().equals("after");
                    } catch (InterruptedException e) {
                        return false;
                    }
                });
                got.clear();
                pub.publish("other", "second expression");
                Delivery d = got.poll(5, TimeUnit.SECONDS);
                assertTrue("second subscription not restored", d != null && d.text().equals("second expression"));
            }
            assertEquals(2, sub.sessions());
            assertTrue("no session-lost event reported", !events.isEmpty());
        } finally {
            broker.close();
        }
    }

    /**
     * A broker that stays away for several of the client's retry periods:
     * when it is back, the client gets exactly one new session (each retry
     * uses a new connection, so no stale HELLO reaches the broker to start
     * a second session or an INVALID loop).
     */
    @Test
    public void noHelloStormAfterALongOutage() throws Exception {
        Harness.Broker broker = new Harness.Broker();
        try (Client c = Client.connect(broker.endpoint, new Options().identifier("storm").connectTimeout(java.time.Duration.ofSeconds(15))
                .reconnect(java.time.Duration.ofMillis(100), java.time.Duration.ofMillis(800)))) {
            broker.kill();
            Harness.eventually("the client noticed the outage", 10_000, () -> !c.isConnected());
            Thread.sleep(3000); // the outage itself: several retry periods
            broker.start();
            Harness.eventually("a new session", 15_000, () -> c.isConnected());
            Thread.sleep(Harness.TIMEOUT_MS); // would show a second session or an INVALID loop
            assertEquals(2, c.sessions());
            assertTrue(c.isConnected());
            // The restarted broker numbers its sessions from 1: ours is its
            // first, so no earlier HELLO of ours started (and lost) one.
            assertEquals("1", c.serverProperties().get("zccp-session"));
        } finally {
            broker.close();
        }
    }

    /**
     * A CURVE endpoint refuses a ZMTP 2.0 peer (JeroMQ 0.3 has no CURVE):
     * no session, and the broker says why in one log line.
     */
    @Test
    public void curveEndpointRefusesJeromq() throws Exception {
        java.nio.file.Path data = java.nio.file.Files.createTempDirectory("zccpd-curve-");
        Harness.Broker broker = new Harness.Broker(Harness.freePort(), "curve+", "--data-dir", data.toString());
        try {
            try {
                Client.connect(broker.endpoint, new Options().connectTimeout(java.time.Duration.ofMillis(1500)));
                org.junit.Assert.fail("a ZMTP 2.0 client got a session on a CURVE endpoint");
            } catch (ZccpException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("no session"));
            }
            Harness.eventually("the refusal is logged", 5_000, () -> broker.logText().contains("ZMTP 2.0 peer refused"));
        } finally {
            broker.close();
            for (java.io.File f : data.toFile().listFiles()) {
                f.delete();
            }
            data.toFile().delete();
        }
    }
}
