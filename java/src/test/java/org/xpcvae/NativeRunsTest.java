package org.xpcvae;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.Test;

/** The shutdown's drain waits for the call in flight, then keeps new calls from starting. */
public class NativeRunsTest {
    @Test
    public void drainWaitsForTheCallInFlightAndBlocksNewOnes() throws Exception {
        NativeRuns gate = new NativeRuns();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean lateCallRan = new AtomicBoolean();
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true); // the late call stays blocked for good
            return t;
        });
        try {
            Future<Integer> inFlight = pool.submit(() -> gate.run(() -> {
                inside.countDown();
                awaitUninterruptibly(release);
                return 1;
            }));
            assertTrue(inside.await(10, TimeUnit.SECONDS));
            Future<Boolean> drained = pool.submit(() -> gate.drain(30, TimeUnit.SECONDS));
            Thread.sleep(200);
            assertFalse("the drain returned while a call was in flight", drained.isDone());
            release.countDown();
            assertTrue(drained.get(10, TimeUnit.SECONDS));
            assertTrue(inFlight.get(10, TimeUnit.SECONDS) == 1);
            // a thread of its own: the drain's thread holds the write lock, under which it could read
            Thread late = new Thread(() -> {
                try {
                    gate.run(() -> {
                        lateCallRan.set(true);
                        return 0;
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            late.setDaemon(true);
            late.start();
            Thread.sleep(200);
            assertFalse("a call started after the drain", lateCallRan.get());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    public void drainGivesUpAfterItsWaitWhenACallHangs() throws Exception {
        NativeRuns gate = new NativeRuns();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                gate.run(() -> {
                    inside.countDown();
                    awaitUninterruptibly(release);
                    return 0;
                });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        t.setDaemon(true);
        t.start();
        try {
            assertTrue(inside.await(10, TimeUnit.SECONDS));
            assertFalse(gate.drain(100, TimeUnit.MILLISECONDS));
        } finally {
            release.countDown();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
