import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;

import net.handle.hdllib.AbstractRequest;
import net.handle.hdllib.AbstractResponse;
import net.handle.hdllib.AddValueRequest;
import net.handle.hdllib.ChallengeAnswerRequest;
import net.handle.hdllib.ChallengeResponse;
import net.handle.hdllib.ErrorResponse;
import net.handle.hdllib.HandleResolver;
import net.handle.hdllib.HandleValue;
import net.handle.hdllib.PublicKeyAuthenticationInfo;
import net.handle.hdllib.Util;

/**
 * Adds a value to a handle over an Indunet Handle protocol port (TCP) with Handle.Net's own
 * client library, answering the server's challenge with hdllib's PublicKeyAuthenticationInfo
 * as HandleResolver does (the answer on a new connection, in the challenge's session).
 * Usage: HdlAdmin PORT PKCS8_DER_KEY_FILE IDENTITY INDEX HANDLE VALUE_INDEX TYPE DATA
 */
public class HdlAdmin {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        byte[] der = Files.readAllBytes(Paths.get(args[1]));
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
        PublicKeyAuthenticationInfo auth = new PublicKeyAuthenticationInfo(Util.encodeString(args[2]), Integer.parseInt(args[3]), key);
        HandleValue value = new HandleValue(Integer.parseInt(args[5]), Util.encodeString(args[6]), Util.encodeString(args[7]));
        AddValueRequest req = new AddValueRequest(Util.encodeString(args[4]), value, auth);
        req.certify = false;
        HandleResolver resolver = new HandleResolver();
        resolver.setTcpTimeout(5000);
        InetAddress addr = InetAddress.getByName("127.0.0.1");
        AbstractResponse resp = resolver.sendHdlTcpRequest(req, addr, port);
        System.out.println("rc " + resp.responseCode);
        if (resp instanceof ChallengeResponse) {
            ChallengeResponse ch = (ChallengeResponse) resp;
            byte[] sig = auth.authenticate(ch, req);  // checks the challenge's digest of req
            ChallengeAnswerRequest answer = new ChallengeAnswerRequest(auth.getAuthType(), auth.getUserIdHandle(), auth.getUserIdIndex(), sig, auth);
            answer.takeValuesFrom(req);
            answer.majorProtocolVersion = ch.majorProtocolVersion;
            answer.minorProtocolVersion = ch.minorProtocolVersion;
            answer.sessionId = ch.sessionId;
            answer.certify = false;
            resp = resolver.sendHdlTcpRequest(answer, addr, port);
            System.out.println("rc " + resp.responseCode);
        }
        if (resp instanceof ErrorResponse) {
            System.out.println("message " + Util.decodeString(((ErrorResponse) resp).message));
        }
    }
}
