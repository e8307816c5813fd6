using System.Security.Cryptography;
using System.Text;

namespace RenderFarm.Coordinator.Auth;

/// <summary>The operator's key, as the client API and the Hangfire dashboard both check it.</summary>
internal static class OperatorKey
{
    /// <summary>The header scripts send the operator key in.</summary>
    public const string Header = "X-Operator-Key";

    /// <summary>Whether <paramref name="presented"/> is the configured key, compared in fixed time; never when none is configured.</summary>
    public static bool Matches(string? presented, string configured) =>
        configured.Length > 0
        && presented is { Length: > 0 }
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(configured));
}
