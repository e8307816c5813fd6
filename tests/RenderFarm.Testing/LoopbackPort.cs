using System.Net;
using System.Net.Sockets;

namespace RenderFarm.Testing;

/// <summary>Loopback ports for test servers.</summary>
public static class LoopbackPort
{
    /// <summary>
    /// A port nothing listens on right now: bound and released at once. Another process may take it before the
    /// caller binds it; where the server can bind port 0 and print its port, prefer that.
    /// </summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
