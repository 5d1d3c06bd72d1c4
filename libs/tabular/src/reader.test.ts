import { describe, expect, it } from "vitest";
import { parseTable, TableError, type TableFormat, TableReader, type TableRow } from "./index";
import { MAX_RECORD_CHARS } from "./tokenizer";

type Outcome = { columns: string[]; rows: TableRow[] } | { error: string };

function outcome(read: () => { columns: string[]; rows: TableRow[] }): Outcome {
  try {
    return read();
  } catch (error) {
    expect(error).toBeInstanceOf(TableError);
    return { error: (error as Error).message };
  }
}

const whole = (text: string, format: TableFormat) => outcome(() => parseTable(text, format));

/** The bytes fed to a TableReader in the given chunks, as an upload would. */
function streamed(chunks: Uint8Array[], format: TableFormat): Outcome {
  return outcome(() => {
    const rows: TableRow[] = [];
    const reader = new TableReader(format, (row) => rows.push(row));
    for (const chunk of chunks) reader.write(chunk);
    const summary = reader.end();
    expect(summary.rows).toBe(rows.length);
    return { columns: summary.columns, rows };
  });
}

/** Every way to cut the bytes in two, and one byte at a time. */
function chunkings(bytes: Uint8Array): Uint8Array[][] {
  const cuts = Array.from({ length: bytes.length + 1 }, (_, at) => [
    bytes.subarray(0, at),
    bytes.subarray(at),
  ]);
  return [...cuts, Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))];
}

const bytesOf = (text: string) => new TextEncoder().encode(text);
const ragged = "a,b,label\n1,2,x\n3,y\n";

describe("chunk boundaries", () => {
  const inputs: [TableFormat, string][] = [
    ["csv", '\uFEFFa,"b, ""quoted""",é\r\n1,"x\r\ny",€\n\n2,"",𝄞\r3,4,"5"'],
    ["csv", 'a,b\r\n"line\rone",2\n \n"tail",3\r\n'],
    ["csv", ragged],
    ["csv", 'a,b\n1,"never closed\r\n2,3\n'],
    ["csv", "a,b\r\n"],
    ["csv", " \r\n\n"],
    ["jsonl", '{"x": "é€", "y": 1}\r\n\n{"z": [1, 2], "x": "𝄞"}\r{"y": 2}'],
    ["jsonl", '{"x": 1}\r\n{"x": \n'],
    ["jsonl", '{"x": 1}\n[1, 2]\n'],
  ];

  it.each(inputs)("give the whole text's rows and errors wherever they fall (%s %j)", (format, text) => {
    const expected = whole(text, format);
    for (const chunks of chunkings(bytesOf(text))) expect(streamed(chunks, format)).toEqual(expected);
  });

  it("name the line of an invalid byte, even inside a split character or a multi-line quoted field", () => {
    const valid = bytesOf('a,b\n1,"x\r\ny é\n');
    const files = [
      // A lone continuation byte on line 4, after a quoted field's CRLF and a two-byte character.
      [...valid, 0x80, ...bytesOf('z",2\n')],
      // A three-byte character (€ is E2 82 AC) cut short by the end of line 4.
      [...valid, 0xe2, 0x82, ...bytesOf('",2\n')],
      // The same, cut short by the end of the file.
      [...valid, 0xe2, 0x82],
    ];
    for (const file of files) {
      for (const chunks of chunkings(new Uint8Array(file))) {
        expect(streamed(chunks, "csv")).toEqual({ error: "line 4 is not valid UTF-8 text" });
      }
    }
  });
});

describe("lines", () => {
  it("counts CRLF inside quoted fields and mixed line endings as an editor does", () => {
    const { rows } = parseTable('a,b\r\n"x\r\ny",1\n"p\rq",2\r3,4\n\r\n"\n",5', "csv");
    expect(rows).toEqual([
      { line: 2, cells: { a: "x\r\ny", b: "1" } },
      { line: 4, cells: { a: "p\rq", b: "2" } },
      { line: 6, cells: { a: "3", b: "4" } },
      { line: 8, cells: { a: "\n", b: "5" } },
    ]);
    expect(whole('a,b\r\n"x\r\ny",1\r\r"p\nq"\n', "csv")).toEqual({
      error: "line 5 has 1 cells but the header names 2 columns",
    });
  });

  it("refuses the CSV the worker used to fail on, at line 3", () => {
    expect(whole(ragged, "csv")).toEqual({ error: "line 3 has 2 cells but the header names 3 columns" });
  });

  it("names the line a quoted field that never closes opens on", () => {
    expect(whole('a,b\n1,2\n3,"4\n5\n', "csv")).toEqual({
      error: "line 3 has a quoted field that never closes",
    });
  });

  it("bounds a record's length, so an endless one cannot fill memory", () => {
    const long = "1".repeat(MAX_RECORD_CHARS);
    expect(whole(`a\n${long}\n`, "csv")).toEqual({ columns: ["a"], rows: [{ line: 2, cells: { a: long } }] });
    const message = `line 2 is longer than ${MAX_RECORD_CHARS} characters`;
    expect(whole(`a\n${long}1\n`, "csv")).toEqual({ error: message });
    expect(whole(`a\n"${long}`, "csv")).toEqual({ error: message });
    expect(whole(`{}\n ${long}`, "jsonl")).toEqual({ error: message });
  });
});

describe("tables", () => {
  it("read a CSV header (trimmed) and rows, skipping blank lines", () => {
    expect(whole(" a , b \n1,2\n  \n\n3,4\n", "csv")).toEqual({
      columns: ["a", "b"],
      rows: [
        { line: 2, cells: { a: "1", b: "2" } },
        { line: 5, cells: { a: "3", b: "4" } },
      ],
    });
  });

  it("read JSONL columns as the union of the rows' keys, in order of appearance", () => {
    expect(whole('{"x": 1, "y": 0}\n{"x": 2, "z": 1, "y": 1}\n', "jsonl")).toMatchObject({
      columns: ["x", "y", "z"],
      rows: [{ line: 1 }, { line: 2 }],
    });
  });

  it.each<[TableFormat, string, string]>([
    ["csv", "", "the file is empty; expected a header row of column names"],
    ["csv", "a,b\n\n", "the file has no data rows"],
    ["jsonl", "\n", "the file has no data rows"],
    ["jsonl", '{"x": 1}\n{oops}\n', "line 2 is not valid JSON: "],
    ["jsonl", '{"x": 1}\n\n"text"\n', "line 3 must be a JSON object of column values"],
  ])("refuse a %s file %j: %s", (format, text, message) => {
    const result = whole(text, format);
    expect("error" in result && result.error.startsWith(message)).toBe(true);
  });

  it("keep only counts when nobody asks for the rows", () => {
    const reader = new TableReader("csv");
    reader.write(bytesOf("a,b\n1,2\n3,4"));
    expect(reader.end()).toEqual({ columns: ["a", "b"], rows: 2 });
  });
});
