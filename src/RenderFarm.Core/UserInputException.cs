namespace RenderFarm.Core;

/// <summary>
/// A problem the user caused and can fix (a missing file, a malformed option, an unsupported scene
/// feature). Front ends print <see cref="Exception.Message"/> as one line, without a stack trace.
/// </summary>
public class UserInputException : Exception
{
    /// <summary>Creates the exception with a message written for the user.</summary>
    public UserInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message written for the user and the underlying cause.</summary>
    public UserInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
