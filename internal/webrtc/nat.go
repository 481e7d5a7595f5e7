package webrtc

import (
	"fmt"
	"net"
	"strconv"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// NAT is how publishers reach a server behind NAT or a firewall (settings ip, ip_local,
// ice_tcp_port, stun_servers; README "WebRTC behind NAT").
type NAT struct {
	// PublicIPs replace the addresses of the server's own (host) candidates in every answer: the
	// address a 1:1 NAT (a cloud VM's public IP, a container's published port) forwards to this
	// machine. Empty: the host addresses as they are.
	PublicIPs []string
	// LocalIP, when set, is the one local address media is gathered on (and the one PublicIPs
	// stand for); others are not offered.
	LocalIP string
	// TCPPort, when not 0, also offers ICE over TCP on this one port (passive candidates), for
	// networks that drop UDP.
	TCPPort int
	// STUN are stun: URLs the server asks for its public address (server reflexive candidates),
	// when PublicIPs do not say it.
	STUN []string
}

// apply sets the NAT's rules on se and returns the TCP listener it opened (nil when none).
func (n NAT) apply(se *pion.SettingEngine, networks []pion.NetworkType) (net.Listener, []pion.NetworkType, error) {
	if len(n.PublicIPs) > 0 {
		rule := pion.ICEAddressRewriteRule{External: n.PublicIPs, Local: n.LocalIP,
			AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return nil, nil, fmt.Errorf("ip %v: %w", n.PublicIPs, err)
		}
	}
	if n.LocalIP != "" {
		local := net.ParseIP(n.LocalIP)
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(local) })
		se.SetIncludeLoopbackCandidate(local.IsLoopback())
	}
	if n.TCPPort == 0 {
		return nil, networks, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(n.LocalIP, strconv.Itoa(n.TCPPort)))
	if err != nil {
		return nil, nil, fmt.Errorf("ice_tcp_port %d: %w", n.TCPPort, err)
	}
	// ReadBufferSize: packets queued per connection before the ICE agent reads them.
	se.SetICETCPMux(ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: ln, ReadBufferSize: 64}))
	return ln, append(networks, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6), nil
}

// iceServers are the STUN servers the server's own gathering asks.
func (n NAT) iceServers() []pion.ICEServer {
	if len(n.STUN) == 0 {
		return nil
	}
	return []pion.ICEServer{{URLs: n.STUN}}
}
