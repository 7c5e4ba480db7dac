package org.zccp;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/** Runs the suite with JUnit 4 and ends with the line "N passed, N failed". */
public final class TestMain {
    private TestMain() {}

    public static void main(String[] args) {
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            private long start;

            @Override
            public void testStarted(Description d) {
                start = System.nanoTime();
            }

            @Override
            public void testFinished(Description d) {
                System.out.printf("  %-60s %5d ms%n", d.getClassName().replace("org.zccp.", "") + "." + d.getMethodName(),
                        (System.nanoTime() - start) / 1_000_000);
            }

            @Override
            public void testFailure(Failure f) {
                System.out.println("FAIL " + f.getTestHeader() + ": " + f.getMessage());
                for (String line : f.getTrace().split("\n")) {
                    if (!line.contains("org.junit.") && !line.contains("jdk.internal") && !line.contains("java.lang.reflect")) {
                        System.out.println(line);
                    }
                }
            }
        });
        Result r = core.run(ClientTest.class, CrossLanguageTest.class, RecoveryTest.class, ZrexTest.class);
        int failed = r.getFailureCount();
        System.out.println((r.getRunCount() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 && r.getRunCount() > 0 ? 0 : 1);
    }
}
