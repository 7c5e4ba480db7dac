package org.zccp;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Requests between Java and the other languages' clients: the Python
 * package's and the C library's echo devices ({@code python3 -m zccp
 * device}, {@code clients/c/build/zccp_device}), Go's {@code zccp device},
 * and {@code python3 -m zccp call} to a Java device.
 */
public class CrossLanguageTest {
    static final String PYTHON_DIR = System.getProperty("zccp.python", "../python");
    static final String C_DEVICE = System.getProperty("zccp.cdevice", "../c/build/zccp_device");

    private static Harness.Broker broker;
    private final List<AutoCloseable> closers = new ArrayList<>();

    @BeforeClass
    public static void startBroker() throws Exception {
        broker = new Harness.Broker();
    }

    @AfterClass
    public static void stopBroker() throws Exception {
        broker.close();
    }

    @After
    public void closeAll() throws Exception {
        for (int i = closers.size() - 1; i >= 0; i--) {
            closers.get(i).close();
        }
    }

    private Harness.Go start(Harness.Go p) {
        closers.add(p);
        Harness.eventually("peer ready: " + p.output(), 15_000, () -> p.output().contains("ready") || !p.proc.isAlive());
        assertTrue("peer exited: " + p.output(), p.proc.isAlive());
        return p;
    }

    private Harness.Go pythonDevice(String id, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(Arrays.asList("/usr/bin/python3", "-m", "zccp", "device", "--endpoint", broker.endpoint, "--id", id));
        cmd.addAll(Arrays.asList(extra));
        return start(Harness.Go.exec(new File(PYTHON_DIR), cmd));
    }

    private Harness.Go cDevice(String id, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(Arrays.asList(C_DEVICE, "--endpoint", broker.endpoint, "--id", id));
        cmd.addAll(Arrays.asList(extra));
        return start(Harness.Go.exec(null, cmd));
    }

    private Client client(String id, Options o) {
        Client c = Client.connect(broker.endpoint, o.identifier(id).connectTimeout(Duration.ofSeconds(15)));
        closers.add(c);
        return c;
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void echoes(Client req, String device) throws Exception {
        Reply r = req.request(device, "echo", null, b("one"), b(""), b("three")).get(10, TimeUnit.SECONDS);
        assertEquals(device, r.from());
        assertEquals(3, r.content().size());
        assertEquals("one", r.text());
        assertEquals("three", new String(r.content().get(2), StandardCharsets.UTF_8));
        try {
            req.request(device, "fail", null).get(10, TimeUnit.SECONDS);
            fail(device + " did not fail");
        } catch (ExecutionException e) {
            assertEquals("device-error", ((RequestException) e.getCause()).code());
        }
    }

    @Test
    public void javaRequesterToPythonDevice() throws Exception {
        pythonDevice("py-echo");
        echoes(client("x-req-py", new Options()), "py-echo");
    }

    @Test
    public void javaRequesterToCDevice() throws Exception {
        cDevice("c-echo");
        echoes(client("x-req-c", new Options()), "c-echo");
    }

    @Test
    public void pythonRequesterToJavaDevice() throws Exception {
        client("j-upper", new Options().handleAll(r -> Response.ok(r.text().toUpperCase()).header("lang", "java")));
        Harness.Go call = Harness.Go.exec(new File(PYTHON_DIR), Arrays.asList("/usr/bin/python3", "-m", "zccp", "call",
                "--endpoint", broker.endpoint, "--timeout", "5", "j-upper", "upper", "from python"));
        closers.add(call);
        assertEquals(call.output(), 0, call.waitFor(20_000));
        assertEquals("FROM PYTHON", call.output().trim());
    }

    @Test
    public void groupCallReachesEveryLanguage() throws Exception {
        client("grp-java", new Options().handle("echo", r -> Response.ok(r.content().toArray(new byte[0][]))))
                .subscribe("^lab$", d -> { });
        pythonDevice("grp-python", "--subscribe", "^lab$");
        cDevice("grp-c", "--subscribe", "^lab$");
        Harness.Go go = new Harness.Go("device", "--endpoint", broker.endpoint, "--id", "grp-go", "--subscribe", "^lab$", "--", "cat");
        closers.add(go);
        Client req = client("grp-req", new Options());
        Harness.eventually("four devices in the group", 15_000,
                () -> req.groupDryRun("lab", "echo", null, Duration.ofSeconds(5)).join().recipients().size() == 4);
        GroupResult g = req.groupRequest("lab", "echo", null, Duration.ofSeconds(10), null, null, b("ping")).get(15, TimeUnit.SECONDS);
        assertTrue(g.toString(), g.allOk());
        for (String id : new String[] {"grp-java", "grp-python", "grp-c", "grp-go"}) {
            assertEquals(id, "ping", g.replies().get(id).text());
        }
    }
}
