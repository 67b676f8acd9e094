// dcmharness: from_json through PixelMed's JSONRepresentationOfDicomObjectFactory, many jobs in ONE JVM.
//
// Input (stdin), one job per line, TAB-separated (escapes as PixelMedBatch: "\\", "\t", "\n"):
//   IN.json <TAB> OUT.dcm <TAB> transfer syntax UID
// IN is a DICOM JSON document with every bulk value inline (the adapter writes it). Each job:
//   AttributeList list = new JSONRepresentationOfDicomObjectFactory().getAttributeList(new File(IN));
//   list.insertSuitableSpecificCharacterSetForAllStringValues();   // as PixelMed's own main() (toDICOM) does:
//                                  // the JSON's strings are Unicode, and PixelMed writes them as such
// then the File Meta Information: FileMetaInformation.addFileMetaInformation(list, SOP Class, SOP Instance, TS,
// "") builds it (the Media Storage UIDs from the document's meta when it has them, else from the data set),
// and the document's own group 0002 elements are put back over the built ones (the contract keeps the
// document's meta; PixelMed's main() removes it and writes Explicit VR Little Endian only). An Implementation
// Version Name is kept only beside PixelMed's own Implementation Class UID. Then
//   list.write(OUT, TS, true /*useMeta*/, true /*useBufferedStream*/).
//
// Output (stdout), one line per job, in order, flushed at once:
//   PMB<TAB>OK<TAB><job number, 0-based><TAB><OUT>   or   PMB<TAB>ERR<TAB><job number><TAB><exception>
import com.pixelmed.dicom.Attribute;
import com.pixelmed.dicom.AttributeList;
import com.pixelmed.dicom.AttributeTag;
import com.pixelmed.dicom.FileMetaInformation;
import com.pixelmed.dicom.JSONRepresentationOfDicomObjectFactory;
import com.pixelmed.dicom.TagFromName;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class PixelMedFromJson {
    private PixelMedFromJson() {}

    static void convert(String in, String out, String transferSyntax) throws Exception {
        AttributeList list = new JSONRepresentationOfDicomObjectFactory().getAttributeList(new File(in));
        List<Attribute> documentMeta = new ArrayList<>();
        for (Object key : list.keySet().toArray()) {
            AttributeTag tag = (AttributeTag) key;
            if (tag.getGroup() == 0x0002 && tag.getElement() != 0x0000) {
                documentMeta.add(list.get(tag));
            }
        }
        list.insertSuitableSpecificCharacterSetForAllStringValues();
        String sopClass = Attribute.getSingleStringValueOrEmptyString(list, TagFromName.MediaStorageSOPClassUID);
        String sopInstance = Attribute.getSingleStringValueOrEmptyString(list, TagFromName.MediaStorageSOPInstanceUID);
        if (sopClass.isEmpty()) {
            sopClass = Attribute.getSingleStringValueOrEmptyString(list, TagFromName.SOPClassUID);
        }
        if (sopInstance.isEmpty()) {
            sopInstance = Attribute.getSingleStringValueOrEmptyString(list, TagFromName.SOPInstanceUID);
        }
        boolean ownImplementation = list.get(TagFromName.ImplementationClassUID) == null;
        list.removeMetaInformationHeaderAttributes();
        FileMetaInformation.addFileMetaInformation(list, sopClass, sopInstance, transferSyntax, "");
        if (!ownImplementation) {
            list.remove(TagFromName.ImplementationVersionName);
        }
        for (Attribute a : documentMeta) {
            list.put(a);
        }
        list.write(out, transferSyntax, true, true);
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
            String answer;
            try {
                List<String> fields = PixelMedBatch.split(line);
                if (fields.size() != 3) {
                    throw new IllegalArgumentException("a job is IN, OUT and the transfer syntax UID");
                }
                convert(fields.get(0), fields.get(1), fields.get(2));
                answer = "PMB\tOK\t" + job + "\t" + PixelMedBatch.escape(fields.get(1));
            } catch (Throwable t) {
                answer = "PMB\tERR\t" + job + "\t" + PixelMedBatch.escape(t.getClass().getName() + ": " + t.getMessage());
            }
            out.println(answer);
            job++;
        }
    }
}
