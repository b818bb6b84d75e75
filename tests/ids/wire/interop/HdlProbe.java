import java.net.InetAddress;

import net.handle.hdllib.AbstractResponse;
import net.handle.hdllib.Encoder;
import net.handle.hdllib.ErrorResponse;
import net.handle.hdllib.HandleResolver;
import net.handle.hdllib.HandleValue;
import net.handle.hdllib.Interface;
import net.handle.hdllib.ResolutionRequest;
import net.handle.hdllib.ResolutionResponse;
import net.handle.hdllib.ServerInfo;
import net.handle.hdllib.ServiceReferralResponse;
import net.handle.hdllib.SiteInfo;
import net.handle.hdllib.Util;

/**
 * Asks an Indunet Handle protocol port with Handle.Net's own client library (hdllib's
 * HandleResolver, compiled from Handle.Net's sources) and prints what it decoded, one fact a
 * line. Usage: HdlProbe udp|tcp PORT HANDLE [rec] [digest]
 */
public class HdlProbe {
    public static void main(String[] args) throws Exception {
        boolean udp = args[0].equals("udp");
        int port = Integer.parseInt(args[1]);
        ResolutionRequest req = new ResolutionRequest(Util.encodeString(args[2]), null, null, null);
        for (int i = 3; i < args.length; i++) {
            if (args[i].equals("rec")) req.recursive = true;
            if (args[i].equals("digest")) req.returnRequestDigest = true;
        }
        req.certify = false;
        HandleResolver resolver = new HandleResolver();
        resolver.setTcpTimeout(5000);
        resolver.setUdpRetryScheme(new int[] {2000});
        InetAddress addr = InetAddress.getByName("127.0.0.1");
        AbstractResponse resp = udp ? resolver.sendHdlUdpRequest(req, addr, port) : resolver.sendHdlTcpRequest(req, addr, port);
        System.out.println("rc " + resp.responseCode);
        System.out.println("version " + resp.majorProtocolVersion + "." + resp.minorProtocolVersion);
        if (resp instanceof ResolutionResponse) {
            ResolutionResponse r = (ResolutionResponse) resp;
            System.out.println("handle " + Util.decodeString(r.handle));
            for (HandleValue v : r.getHandleValues()) {
                System.out.println("value " + v.getIndex() + " " + v.getTypeAsString() + " " + v.getTTL() + " " + v.getTimestamp() + " " + Util.decodeHexString(v.getData(), false));
            }
        } else if (resp instanceof ServiceReferralResponse) {
            for (HandleValue v : ((ServiceReferralResponse) resp).getHandleValues()) {
                SiteInfo site = Encoder.decodeSiteInfoRecord(v.getData(), 0);
                System.out.println("site " + v.getTypeAsString() + " primary=" + site.isPrimary + " path=" + Util.decodeString(site.getAttribute(Util.encodeString("path"))));
                for (ServerInfo s : site.servers) {
                    for (Interface f : s.interfaces) {
                        System.out.println("interface " + f.type + " " + f.protocol + " " + f.port);
                    }
                }
            }
        } else if (resp instanceof ErrorResponse) {
            System.out.println("message " + Util.decodeString(((ErrorResponse) resp).message));
        }
    }
}
