namespace RenderFarm.Storage;

/// <summary>The key rules of <see cref="Core.Storage.IObjectStore"/>, shared by every store.</summary>
internal static class ObjectKeys
{
    // S3 limits keys to 1024 bytes; our keys are ASCII, so characters and bytes agree.
    public const int MaxLength = 1024;

    /// <summary>Throws an <see cref="ArgumentException"/> unless <paramref name="key"/> is a valid key.</summary>
    public static void Validate(string key, string parameterName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, parameterName);
        if (!IsValid(key))
        {
            throw new ArgumentException(
                $"'{key}' is not an object key: use 1-{MaxLength} characters of a-z, 0-9, '.', '_', '-' and '/', "
                + "as a relative path without empty, '.' or '..' segments.",
                parameterName);
        }
    }

    /// <summary>Whether <paramref name="key"/> is a relative path of allowed characters with no empty, '.' or '..' segment.</summary>
    public static bool IsValid(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxLength)
        {
            return false;
        }

        foreach (char c in key)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('.' or '_' or '-' or '/'))
            {
                return false;
            }
        }

        // Splitting keeps empty segments, so a leading, trailing or doubled '/' shows up as "".
        foreach (string segment in key.Split('/'))
        {
            if (segment is "" or "." or "..")
            {
                return false;
            }
        }

        return true;
    }
}
