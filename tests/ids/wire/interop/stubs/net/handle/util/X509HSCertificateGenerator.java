package net.handle.util;

import java.security.*;
import java.security.cert.*;
import java.io.*;
import net.handle.hdllib.ValueReference;

/** Test-harness stand-in: certificate generation is not needed to resolve. */
public class X509HSCertificateGenerator {
    public static X509Certificate generate(String h, PublicKey a, PrivateKey b) throws Exception { throw new UnsupportedOperationException(); }
    public static X509Certificate generate(String h, int i, PublicKey a, PrivateKey b) throws Exception { throw new UnsupportedOperationException(); }
    public static X509Certificate generate(ValueReference r, PublicKey a, PrivateKey b) throws Exception { throw new UnsupportedOperationException(); }
    public static void writeCertAsPem(Writer w, java.security.cert.Certificate c) throws IOException { throw new UnsupportedOperationException(); }
    public static X509Certificate[] readCertChainAsPem(Reader r) throws IOException { throw new UnsupportedOperationException(); }
}
