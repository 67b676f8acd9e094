// dcmharness: render many PixelMed ConsumerFormatImageMaker jobs in ONE JVM (JVM start-up dominates a call).
//
// Input (stdin), one job per line: the exact positional arguments of
//   com.pixelmed.display.ConsumerFormatImageMaker IN OUT [format [wc [ww [width [height [quality
//   [annotation [rx ry rw rh [firstFrame lastFrame]]]]]]]]]
// separated by TAB; inside a field "\\" is a backslash, "\t" a tab, "\n" a newline.
// Each job is parsed exactly as ConsumerFormatImageMaker.main parses its argv (same defaults), then
// ConsumerFormatImageMaker.convertFileToEightBitImage runs with the same arguments main passes.
//
// Output (stdout), one line per job, in order, flushed at once:
//   PMB<TAB>OK<TAB><job number, 0-based><TAB><file written>...   or
//   PMB<TAB>ERR<TAB><job number><TAB><exception class: message>
// PixelMed's own logging goes to stderr. The exit status is 0 when every line was read (a failed job is
// reported on its line; the caller also checks that each output exists).
import com.pixelmed.display.ConsumerFormatImageMaker;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class PixelMedBatch {
    private PixelMedBatch() {}

    static List<String> split(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\t') {
                fields.add(cur.toString());
                cur.setLength(0);
            } else if (c == '\\' && i + 1 < line.length()) {
                char n = line.charAt(++i);
                cur.append(n == 't' ? '\t' : n == 'n' ? '\n' : n);
            } else {
                cur.append(c);
            }
        }
        fields.add(cur.toString());
        return fields;
    }

    static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }

    /** The same parsing and call as ConsumerFormatImageMaker.main (pixelmed 20220618). */
    static String[] render(String[] a) throws Exception {
        String in = a[0];
        String out = a[1];
        String format = a.length > 2 ? a[2] : "jpeg";
        double wc = a.length > 3 ? Double.parseDouble(a[3]) : 0;
        double ww = a.length > 4 ? Double.parseDouble(a[4]) : 0;
        int width = a.length > 5 ? Integer.parseInt(a[5]) : 0;
        int height = a.length > 6 ? Integer.parseInt(a[6]) : 0;
        int quality = a.length > 7 ? Integer.parseInt(a[7]) : -1;
        String annotation = a.length > 8 ? a[8] : "all_color";
        int rx = a.length > 12 ? Integer.parseInt(a[9]) : 0;
        int ry = a.length > 12 ? Integer.parseInt(a[10]) : 0;
        int rw = a.length > 12 ? Integer.parseInt(a[11]) : 0;
        int rh = a.length > 12 ? Integer.parseInt(a[12]) : 0;
        int first = a.length > 14 ? Integer.parseInt(a[13]) : 0;
        int last = a.length > 14 ? Integer.parseInt(a[14]) : -1;
        return ConsumerFormatImageMaker.convertFileToEightBitImage(
                in, out, format, wc, ww, width, height, rx, ry, rw, rh, first, last, quality, annotation);
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int job = 0;
        while ((line = reader.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            StringBuilder answer = new StringBuilder("PMB\t");
            try {
                List<String> fields = split(line);
                if (fields.size() < 2) {
                    throw new IllegalArgumentException("a job needs at least IN and OUT");
                }
                String[] written = render(fields.toArray(new String[0]));
                answer.append("OK\t").append(job);
                if (written != null) {
                    for (String w : written) {
                        answer.append('\t').append(escape(w == null ? "" : w));
                    }
                }
            } catch (Throwable t) {
                answer.setLength(0);
                answer.append("PMB\tERR\t").append(job).append('\t')
                        .append(escape(t.getClass().getName() + ": " + t.getMessage()));
            }
            out.println(answer);
            job++;
        }
    }
}
