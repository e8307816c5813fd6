using System.Globalization;

namespace RenderFarm.Benchmarks;

/// <summary><c>--name value</c> pairs after the command; a <c>--name</c> with no value is <c>true</c>.</summary>
internal sealed class BenchOptions
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private BenchOptions(Dictionary<string, string> values)
    {
        _values = values;
    }

    public static BenchOptions Parse(ReadOnlySpan<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length < 3)
            {
                throw new ArgumentException($"Expected --option, got '{arg}'.");
            }

            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[arg[2..equals]] = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                values[arg[2..]] = args[++i];
            }
            else
            {
                // A switch: --profile alone means --profile true.
                values[arg[2..]] = "true";
            }
        }

        return new BenchOptions(values);
    }

    public string String(string name, string fallback)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out string? value) ? value : fallback;
    }

    public int Int(string name, int fallback, int min = 1)
    {
        string text = String(name, fallback.ToString(CultureInfo.InvariantCulture));
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min)
        {
            throw new ArgumentException($"--{name} must be an integer of at least {min}; got '{text}'.");
        }

        return value;
    }

    public bool Bool(string name, bool fallback)
    {
        string text = String(name, fallback ? "true" : "false");
        return bool.TryParse(text, out bool value) ? value : throw new ArgumentException($"--{name} must be true or false; got '{text}'.");
    }

    public void ThrowIfUnused()
    {
        foreach (string name in _values.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new ArgumentException($"Unknown option --{name}.");
            }
        }
    }
}
