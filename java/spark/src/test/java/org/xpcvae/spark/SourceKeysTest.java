package org.xpcvae.spark;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;

import org.junit.Test;

public class SourceKeysTest {
    @Test
    public void integerIdsAreTheirOwnKey() {
        assertEquals(0L, SourceKeys.key("0"));
        assertEquals(5280437616401936512L, SourceKeys.key("5280437616401936512"));
        assertEquals(Long.MAX_VALUE, SourceKeys.key("9223372036854775807"));
        // leading zeros are still decimal digits
        assertEquals(42L, SourceKeys.key("00042"));
    }

    @Test
    public void otherIdsAreHashed() {
        long big = SourceKeys.key("9223372036854775808"); // 2^63: not a key by value
        assertNotEquals(Long.MIN_VALUE, big);
        assertEquals(big, SourceKeys.key("9223372036854775808"));
        assertNotEquals(SourceKeys.key("-5"), -5L);
        assertNotEquals(SourceKeys.key("synthetic_01"), SourceKeys.key("synthetic_02"));
        assertNotEquals(SourceKeys.key(" 7"), 7L);
        // the first 8 bytes of SHA-256("abc") = ba7816bf8f01cfea
        assertEquals(0xba7816bf8f01cfeaL, SourceKeys.key("abc"));
    }
}
