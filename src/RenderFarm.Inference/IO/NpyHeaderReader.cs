using System.Globalization;

namespace RenderFarm.Inference.IO;

/// <summary>Reads the Python literal subset NumPy writes: a dict of quoted keys to strings, True/False and tuples of integers.</summary>
internal sealed class NpyHeaderReader(string text)
{
    private readonly string _text = text;
    private int _position;

    public Dictionary<string, object> ReadDictionary()
    {
        var entries = new Dictionary<string, object>(StringComparer.Ordinal);
        Expect('{');
        while (Peek() != '}')
        {
            string key = ReadString();
            Expect(':');
            entries[key] = ReadValue();
            if (Peek() == ',')
            {
                _position++;
            }
            else if (Peek() != '}')
            {
                throw new FormatException($"expected ',' or '}}' at offset {_position}");
            }
        }

        _position++;
        if (Peek() != '\0')
        {
            throw new FormatException($"unexpected text after the dict at offset {_position}");
        }

        return entries;
    }

    private object ReadValue()
    {
        char next = Peek();
        if (next is '\'' or '"')
        {
            return ReadString();
        }

        if (next == '(')
        {
            _position++;
            var items = new List<long>();
            while (Peek() != ')')
            {
                items.Add(ReadInteger());
                if (Peek() == ',')
                {
                    _position++;
                }
                else if (Peek() != ')')
                {
                    throw new FormatException($"expected ',' or ')' at offset {_position}");
                }
            }

            _position++;
            return items;
        }

        foreach ((string word, bool value) in new[] { ("True", true), ("False", false) })
        {
            if (string.CompareOrdinal(_text, _position, word, 0, word.Length) == 0)
            {
                _position += word.Length;
                return value;
            }
        }

        throw new FormatException($"unexpected '{next}' at offset {_position}");
    }

    private string ReadString()
    {
        char quote = Peek();
        if (quote is not ('\'' or '"'))
        {
            throw new FormatException($"expected a quoted string at offset {_position}");
        }

        int end = _text.IndexOf(quote, _position + 1);
        if (end < 0)
        {
            throw new FormatException("unterminated string");
        }

        string value = _text[(_position + 1)..end];
        _position = end + 1;
        return value;
    }

    private long ReadInteger()
    {
        Peek();
        int start = _position;
        while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
        {
            _position++;
        }

        // Python 2 era files may write long integers as 3L.
        int end = _position;
        if (_position < _text.Length && _text[_position] == 'L')
        {
            _position++;
        }

        return long.TryParse(_text.AsSpan(start, end - start), NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new FormatException($"expected an integer at offset {start}");
    }

    /// <summary>Skips white space and returns the next character, or '\0' at the end.</summary>
    private char Peek()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
        {
            _position++;
        }

        return _position < _text.Length ? _text[_position] : '\0';
    }

    private void Expect(char expected)
    {
        if (Peek() != expected)
        {
            throw new FormatException($"expected '{expected}' at offset {_position}");
        }

        _position++;
    }
}
