// dcmharness: PixelMed's DICOM network clients in ONE JVM, many requests (com.pixelmed.network, pixelmed 20220618).
//
// Input (stdin), one job per line, TAB-separated fields (escaped as PixelMedBatch does):
//   echo  HOST PORT CALLED CALLING
//   store HOST PORT CALLED CALLING FILE...                 (one association: StorageSOPClassSCU, no compression)
//   find  HOST PORT CALLED CALLING SOPCLASS IDENTIFIER OUTDIR
//         (FindSOPClassSCU; IDENTIFIER is a DICOM file of the query keys; each response identifier is written
//          as OUTDIR/rspN.dcm, N from 1: a bare data set, explicit VR little endian, no meta header)
// Output (stdout), one line per job, in order, flushed at once:
//   PMB<TAB>OK<TAB><job><TAB>echo
//   PMB<TAB>OK<TAB><job><TAB>store<TAB><completed><TAB><failed><TAB><warning><TAB>FILE=1|0 ...   (per file: success)
//   PMB<TAB>OK<TAB><job><TAB>find<TAB><count>
//   PMB<TAB>ERR<TAB><job><TAB><exception class: message>
// PixelMed's logging goes to stderr (slf4j), which the caller does not read.
import com.pixelmed.dicom.AttributeList;
import com.pixelmed.dicom.DicomOutputStream;
import com.pixelmed.dicom.SetOfDicomFiles;
import com.pixelmed.dicom.TransferSyntax;
import com.pixelmed.network.FindSOPClassSCU;
import com.pixelmed.network.IdentifierHandler;
import com.pixelmed.network.MultipleInstanceTransferStatusHandlerWithFileName;
import com.pixelmed.network.StorageSOPClassSCU;
import com.pixelmed.network.VerificationSOPClassSCU;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class PixelMedNetwork {
    private PixelMedNetwork() {}

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int job = 0;
        while ((line = reader.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            try {
                out.println("PMB\tOK\t" + job + "\t" + run(PixelMedBatch.split(line)));
            } catch (Throwable t) {
                out.println("PMB\tERR\t" + job + "\t" + PixelMedBatch.escape(t.getClass().getName() + ": " + t.getMessage()));
            }
            job++;
        }
    }

    static String run(List<String> f) throws Exception {
        String op = f.get(0);
        String host = f.get(1);
        int port = Integer.parseInt(f.get(2));
        String called = f.get(3);
        String calling = f.get(4);
        if (op.equals("echo")) {
            new VerificationSOPClassSCU(host, port, called, calling, false);
            return "echo";
        }
        if (op.equals("store")) {
            SetOfDicomFiles files = new SetOfDicomFiles();
            for (String path : f.subList(5, f.size())) {
                files.add(path);
            }
            final List<String> each = new ArrayList<>();
            final int[] counts = new int[3];
            MultipleInstanceTransferStatusHandlerWithFileName handler = new MultipleInstanceTransferStatusHandlerWithFileName() {
                @Override
                public void updateStatus(int remaining, int completed, int failed, int warning, String sopInstanceUID,
                                         String fileName, boolean success) {
                    counts[0] = completed;
                    counts[1] = failed;
                    counts[2] = warning;
                    each.add(PixelMedBatch.escape(fileName + "=" + (success ? "1" : "0")));
                }
            };
            new StorageSOPClassSCU(host, port, called, calling, files, 0, handler);
            return "store\t" + counts[0] + "\t" + counts[1] + "\t" + counts[2] + "\t" + String.join("\t", each);
        }
        if (op.equals("find")) {
            String sopClass = f.get(5);
            AttributeList identifier = new AttributeList();
            identifier.read(f.get(6));
            identifier.removeGroupLengthAttributes();
            identifier.removeMetaInformationHeaderAttributes();
            final File outdir = new File(f.get(7));
            final int[] count = new int[1];
            IdentifierHandler handler = new IdentifierHandler() {
                @Override
                public void doSomethingWithIdentifier(AttributeList rsp) throws com.pixelmed.dicom.DicomException {
                    count[0]++;
                    File target = new File(outdir, "rsp" + count[0] + ".dcm");
                    try (DicomOutputStream stream = new DicomOutputStream(new FileOutputStream(target), null,
                            TransferSyntax.ExplicitVRLittleEndian)) {
                        rsp.write(stream);
                    } catch (java.io.IOException e) {
                        throw new com.pixelmed.dicom.DicomException(e.toString());
                    }
                }
            };
            new FindSOPClassSCU(host, port, called, calling, sopClass, identifier, handler);
            return "find\t" + count[0];
        }
        throw new IllegalArgumentException("unknown op " + op);
    }
}
