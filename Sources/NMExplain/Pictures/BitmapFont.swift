import NMTensor

/// A 5×7 pixel bitmap font for printable ASCII (32–126), drawn into images without any font
/// file or system library.
///
/// Each character occupies a cell `advance` (6) pixels wide — 5 glyph columns and 1 blank
/// column — and `lineHeight` (9) pixels tall: 1 blank row, 7 glyph rows, and 1 row that only
/// the descenders of g, j, p, q and y use. `scale` multiplies both. `"\n"` starts a new line; any other character outside 32–126 is drawn
/// as '?'.
public enum BitmapFont {
    /// Horizontal distance between consecutive characters at scale 1, in pixels.
    public static let advance = 6
    /// Glyph columns, and glyph rows including the descender row, at scale 1.
    static let glyphWidth = 5, glyphHeight = 8

    /// Height of one line of text, in pixels: 9 × `scale`.
    public static func lineHeight(scale: Int) -> Int {
        precondition(scale >= 1, "BitmapFont: scale \(scale) must be ≥ 1")
        return (glyphHeight + 1) * scale
    }

    /// Width of `text` in pixels: the longest line's character count × `advance` × `scale`.
    public static func textWidth(_ text: String, scale: Int) -> Int {
        precondition(scale >= 1, "BitmapFont: scale \(scale) must be ≥ 1")
        return (lines(text).map { $0.count }.max() ?? 0) * advance * scale
    }

    /// `text` drawn as an image.
    /// - Parameters:
    ///   - text: one or more lines separated by "\n".
    ///   - scale: integer magnification ≥ 1 (each font pixel becomes scale × scale pixels).
    ///   - color: RGB of the glyphs, each in [0, 1].
    ///   - background: RGB of everything else.
    /// - Returns: `[lineCount · lineHeight(scale), textWidth(text, scale), 3]`; lines are
    ///   left-aligned.
    public static func render(
        _ text: String, scale: Int = 1, color: (Float, Float, Float) = (0, 0, 0),
        background: (Float, Float, Float) = (1, 1, 1)
    ) -> Tensor {
        let textLines = lines(text)
        let height = textLines.count * lineHeight(scale: scale)
        let width = textWidth(text, scale: scale)
        var canvas = Canvas(height: height, width: width, background: background)
        canvas.drawText(text, top: 0, left: 0, scale: scale, color: color)
        return canvas.tensor
    }

    /// The lines of `text` as glyph indices into `glyphs` (unknown characters → '?').
    static func lines(_ text: String) -> [[Int]] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.map { character -> Int in
                guard let code = character.asciiValue, code >= 32, code <= 126 else { return 63 - 32 }
                return Int(code) - 32
            }
        }
    }

    /// Whether the font pixel at (`row`, `column`) of glyph `glyph` is lit; row 0 is the top.
    static func isLit(glyph: Int, row: Int, column: Int) -> Bool {
        glyphColumns[glyph * glyphWidth + column] >> UInt8(row) & 1 == 1
    }

    /// `glyphs` unpacked: 5 column bytes per glyph, bit r set when row r is lit.
    private static let glyphColumns: [UInt8] = glyphs.flatMap { hex -> [UInt8] in
        let digits = Array(hex.utf8)
        return (0..<glyphWidth).map { column in
            UInt8(hexValue(digits[2 * column]) << 4 | hexValue(digits[2 * column + 1]))
        }
    }

    private static func hexValue(_ digit: UInt8) -> UInt8 {
        digit >= UInt8(ascii: "A") ? digit - UInt8(ascii: "A") + 10 : digit - UInt8(ascii: "0")
    }

    /// Glyphs for ASCII 32…126 in order, 5 columns left to right, 2 hex digits per column;
    /// bit 0 (value 0x01) is the top row, bit 6 (0x40) the baseline row and bit 7 (0x80) the
    /// descender row.
    private static let glyphs: [String] = [
        "0000000000", "00005F0000", "0007000700", "147F147F14", "242A7F2A12",  // space ! " # $
        "2313086462", "3649552250", "0005030000", "001C224100", "0041221C00",  // % & ' ( )
        "082A1C2A08", "08083E0808", "0050300000", "0808080808", "0060600000",  // * + , - .
        "2010080402", "3E5149453E", "00427F4000", "4261514946", "2141454B31",  // / 0 1 2 3
        "1814127F10", "2745454539", "3C4A494930", "0171090503", "3649494936",  // 4 5 6 7 8
        "064949291E", "0036360000", "0056360000", "0814224100", "1414141414",  // 9 : ; < =
        "0041221408", "0201510906", "324979413E", "7E1111117E", "7F49494936",  // > ? @ A B
        "3E41414122", "7F4141221C", "7F49494941", "7F09090101", "3E41415132",  // C D E F G
        "7F0808087F", "00417F4100", "2040413F01", "7F08142241", "7F40404040",  // H I J K L
        "7F020C027F", "7F0408107F", "3E4141413E", "7F09090906", "3E4151215E",  // M N O P Q
        "7F09192946", "4649494931", "01017F0101", "3F4040403F", "1F2040201F",  // R S T U V
        "3F4038403F", "6314081463", "0708700807", "6151494543", "007F414100",  // W X Y Z [
        "0204081020", "0041417F00", "0402010204", "4040404040", "0001020400",  // \ ] ^ _ `
        "2054545478", "7F48444438", "3844444420", "384444487F", "3854545418",  // a b c d e
        "087E090102", "18A4A4A47C", "7F08040478", "00447D4000", "4080847D00",  // f g h i j
        "007F102844", "00417F4000", "7C04180478", "7C08040478", "3844444438",  // k l m n o
        "FC24242418", "18242424FC", "7C08040408", "4854545420", "043F444020",  // p q r s t
        "3C4040207C", "1C2040201C", "3C4030403C", "4428102844", "1CA0A0A07C",  // u v w x y
        "4464544C44", "0008364100", "00007F0000", "0041360800", "0804081008",  // z { | } ~
    ]
}
