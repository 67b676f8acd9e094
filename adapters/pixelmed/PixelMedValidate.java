// dcmharness: validate many files with PixelMed's com.pixelmed.validate.DicomInstanceValidator in ONE JVM
// (its constructor compiles the IOD stylesheets: about 4 s, paid once per JVM instead of once per file).
//
// Input (stdin), one job per line: the path of a DICOM file ("\\" is a backslash, "\t" a tab, "\n" a newline).
// Each job does what DicomInstanceValidator.main does (pixelmed 20220618, javap -c): read the AttributeList
// up to Pixel Data (AttributeList.read(path, TagFromName.PixelData)), then validator.validate(list).
//
// Output (stdout), one line per job, in order, flushed at once:
//   PMB<TAB>OK<TAB><job number, 0-based><TAB><the validator's text, escaped>   or
//   PMB<TAB>ERR<TAB><job number><TAB><exception class: message>
// Java 17 refuses the stylesheets unless the JAXP XPath limits are lifted: the caller passes
// -Djdk.xml.xpathExprOpLimit=0 -Djdk.xml.xpathExprGrpLimit=0 -Djdk.xml.xpathTotalOpLimit=0.
import com.pixelmed.dicom.AttributeList;
import com.pixelmed.dicom.TagFromName;
import com.pixelmed.validate.DicomInstanceValidator;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public final class PixelMedValidate {
    private PixelMedValidate() {}

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        DicomInstanceValidator validator = null;
        Throwable broken = null;
        try {
            validator = new DicomInstanceValidator();
        } catch (Throwable t) {
            broken = t;
        }
        String line;
        int job = 0;
        while ((line = reader.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            try {
                if (validator == null) {
                    throw new IllegalStateException("DicomInstanceValidator could not start: " + broken);
                }
                String path = PixelMedBatch.split(line).get(0);
                AttributeList list = new AttributeList();
                list.read(path, TagFromName.PixelData);
                String text = validator.validate(list);
                out.println("PMB\tOK\t" + job + "\t" + PixelMedBatch.escape(text == null ? "" : text));
            } catch (Throwable t) {
                out.println("PMB\tERR\t" + job + "\t" + PixelMedBatch.escape(t.getClass().getName() + ": " + t.getMessage()));
            }
            job++;
        }
    }
}
